"""Retention callbacks: due days in the customer's calendar across zones and DST, once each, never to do-not-call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from crm import access
from crm.dashboard.views import task_counts
from crm.errors import ValidationFailed
from crm.leads.service import change_stage, mark_won
from crm.scheduler.models import JobRun
from crm.scheduler.runner import run_job
from crm.scheduler.settings import write_setting
from crm.tasks import retention
from crm.tasks.models import Task, TaskKind, TaskStatus
from crm.touches.service import log_touch
from jobs import retention as retention_job
from tests import factories as f


def customer(won_at: datetime, timezone: str = "Europe/Lisbon", rep=None, **contact_fields):
    rep = rep or f.user(timezone="Europe/Lisbon")
    lead = f.lead(rep, f.contact(timezone=timezone, **contact_fields))
    change_stage(lead, "nurture", actor=rep)
    change_stage(lead, "propose", actor=rep)
    mark_won(lead, actor=rep, value="1200", at=won_at)
    return lead


def callbacks(db_session, lead=None):
    stmt = select(Task).where(Task.kind == TaskKind.RETENTION_CALLBACK).order_by(Task.due_at)
    if lead is not None:
        stmt = stmt.where(Task.lead_id == lead.id)
    return db_session.scalars(stmt).all()


def run_at(moment: datetime) -> int:
    with time_machine.travel(moment, tick=False):
        return retention_job.run(moment)


@pytest.mark.parametrize(("timezone", "won_at", "first_due"), [
    # Won on the evening of 1 March UTC: already 2 March in Tokyo, so day 30 is 1 April, 10:00 JST.
    ("Asia/Tokyo", datetime(2026, 3, 1, 20, 0, tzinfo=UTC), datetime(2026, 4, 1, 1, 0, tzinfo=UTC)),
    # Lisbon changes to summer time on 29 March: 31 March 10:00 WEST is 09:00 UTC.
    ("Europe/Lisbon", datetime(2026, 3, 1, 20, 0, tzinfo=UTC), datetime(2026, 3, 31, 9, 0, tzinfo=UTC)),
    # Won at 03:00 UTC on 1 March is still 28 February in New York; summer time from 8 March (UTC-4).
    ("America/New_York", datetime(2026, 3, 1, 3, 0, tzinfo=UTC), datetime(2026, 3, 30, 14, 0, tzinfo=UTC)),
])
def test_first_callback_is_due_day_30_at_ten_in_the_customers_zone(db_session, timezone, won_at, first_due):
    lead = customer(won_at, timezone)
    assert run_at(first_due - timedelta(days=1, minutes=1)) == 0  # not yet in the one-day look-ahead
    assert run_at(first_due - timedelta(days=1)) == 1
    [task] = callbacks(db_session, lead)
    assert task.due_at == first_due
    assert task.assignee_id == lead.owner_id and task.status == TaskStatus.OPEN and task.origin == "retention"
    assert task.dedupe_key == f"retention:{lead.id}:0" and task.contact_id == lead.contact_id
    assert task.title == f"Retention call 1: {lead.contact.full_name}"


def test_whole_schedule_30_90_180_then_every_180_across_summer_time(db_session):
    won_at = datetime(2026, 1, 15, 15, 0, tzinfo=UTC)  # Lisbon in winter: UTC+0
    lead = customer(won_at, "Europe/Lisbon")
    expected = [datetime(2026, 2, 14, 10, 0, tzinfo=UTC),   # day 30, winter
                datetime(2026, 4, 15, 9, 0, tzinfo=UTC),    # day 90, summer time: 10:00 WEST
                datetime(2026, 7, 14, 9, 0, tzinfo=UTC),    # day 180
                datetime(2027, 1, 10, 10, 0, tzinfo=UTC),   # day 360, winter again
                datetime(2027, 7, 9, 9, 0, tzinfo=UTC)]     # day 540
    for due in expected:
        assert run_at(due - timedelta(hours=2)) == 1
        assert run_at(due - timedelta(hours=1)) == 0  # twice in a row: nothing new
    tasks = callbacks(db_session, lead)
    assert [t.due_at for t in tasks] == expected
    assert [t.dedupe_key for t in tasks] == [f"retention:{lead.id}:{n}" for n in range(5)]


def test_a_late_start_creates_only_the_latest_callback(db_session):
    lead = customer(datetime(2025, 1, 10, 12, 0, tzinfo=UTC))
    assert run_at(datetime(2026, 1, 10, 12, 0, tzinfo=UTC)) == 1  # 365 days on: day 360 is the current one
    [task] = callbacks(db_session, lead)
    assert task.dedupe_key == f"retention:{lead.id}:3"


def test_do_not_call_customers_get_none_and_open_callbacks_are_cancelled(db_session):
    won_at = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    quiet = customer(won_at, do_not_call=True)
    willing = customer(won_at)
    assert run_at(datetime(2026, 2, 14, 9, 0, tzinfo=UTC)) == 1
    assert callbacks(db_session, quiet) == [] and len(callbacks(db_session, willing)) == 1
    willing.contact.do_not_call = True  # the customer asks not to be called any more
    db_session.flush()
    assert run_at(datetime(2026, 2, 14, 9, 30, tzinfo=UTC)) == 1  # one cancellation
    assert [t.status for t in callbacks(db_session, willing)] == [TaskStatus.CANCELLED]
    assert run_at(datetime(2026, 2, 14, 9, 45, tzinfo=UTC)) == 0


def test_leads_of_inactive_reps_wait_until_someone_owns_them(db_session):
    rep = f.user(timezone="Europe/Lisbon")
    lead = customer(datetime(2026, 1, 15, 12, 0, tzinfo=UTC), rep=rep)
    rep.active = False
    db_session.flush()
    assert run_at(datetime(2026, 2, 14, 9, 0, tzinfo=UTC)) == 0
    successor = f.user()
    lead.owner = successor
    db_session.flush()
    assert run_at(datetime(2026, 2, 14, 9, 15, tzinfo=UTC)) == 1
    assert callbacks(db_session, lead)[0].assignee_id == successor.id


def test_callback_is_in_the_reps_tasks_and_overdue_and_its_call_is_logged_like_any(db_session):
    lead = customer(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    rep = lead.owner
    run_at(datetime(2026, 2, 14, 8, 0, tzinfo=UTC))
    [task] = callbacks(db_session, lead)
    assert task in db_session.scalars(access.visible_tasks(rep)).all()
    with time_machine.travel(datetime(2026, 2, 15, 9, 0, tzinfo=UTC), tick=False):
        assert task_counts(rep)["overdue"] == 1
        touch = log_touch(contact=lead.contact, lead=lead, user=rep, channel="call", direction="outbound",
                          outcome="connected", talk_seconds=240).touch
    assert touch.lead_id == lead.id and lead.last_touch_at == touch.occurred_at


def test_admin_schedule_is_used_and_checked(db_session):
    admin = f.user("admin")
    with pytest.raises(ValidationFailed) as exc:
        retention.save_retention_schedule("30, 20", "abc", actor=admin)
    assert set(exc.value.fields) == {"retention_offsets", "retention_repeat_days"}
    for bad in ("", "thirty", "0, 10", "30, 30"):
        with pytest.raises(ValidationFailed):
            retention.check_schedule(bad, 90)
    retention.save_retention_schedule("14; 60", "30", actor=admin)
    assert retention.retention_schedule() == retention.RetentionSchedule((14, 60), 30)
    lead = customer(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    assert run_at(datetime(2026, 1, 15, 9, 0, tzinfo=UTC)) == 1  # day 14
    assert callbacks(db_session, lead)[0].due_at == datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    assert retention.RetentionSchedule((14, 60), 30).day_of(3) == 120


def test_a_broken_stored_schedule_fails_the_run_with_a_clear_error(app, db_session):
    write_setting(retention.SETTING_KEY, {"offsets_days": [90, 30], "repeat_days": 180}, actor=None)
    db_session.commit()
    run = run_job("retention")
    assert "The retention schedule is not valid" in run.error


def test_a_run_killed_halfway_leaves_nothing_and_the_rerun_completes(app, db_session, monkeypatch):
    leads = [customer(datetime(2026, 1, 15, 12, 0, tzinfo=UTC)) for _ in range(3)]
    db_session.commit()
    calls = []
    real_add_once = retention.add_once

    def dies_on_the_second(task):
        calls.append(task.dedupe_key)
        if len(calls) == 2:
            raise ConnectionError("the database went away mid-run")
        return real_add_once(task)

    monkeypatch.setattr(retention, "add_once", dies_on_the_second)
    moment = datetime(2026, 2, 14, 9, 0, tzinfo=UTC)
    with time_machine.travel(moment, tick=False):
        failed = run_job("retention")
    assert "ConnectionError" in failed.error and callbacks(db_session) == []
    monkeypatch.setattr(retention, "add_once", real_add_once)
    with time_machine.travel(moment + timedelta(minutes=5), tick=False):
        rerun = run_job("retention")
        again = run_job("retention")
    assert rerun.items == 3 and again.items == 0
    assert {t.lead_id for t in callbacks(db_session)} == {lead.id for lead in leads}
    assert db_session.scalar(select(func.count()).select_from(JobRun).where(JobRun.job_name == "retention")) == 3
