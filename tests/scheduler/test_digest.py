"""The morning digest: 08:00 in each user's own zone, across summer time, one email per user per day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from crm.email.models import OutboundEmail, Suppression
from crm.extensions import db
from crm.scheduler.runner import run_job
from crm.tasks import digest
from crm.tasks.models import Task, TaskKind, TaskStatus
from jobs import reminders as reminders_job
from tests import factories as f


def task(user, due_at: datetime, title: str = "Call back", lead=None, **kw) -> Task:
    lead = lead or f.lead(user)
    t = Task(kind=TaskKind.CALL, title=title, lead_id=lead.id, assignee_id=user.id, due_at=due_at, **kw)
    db.session.add(t)
    db.session.flush()
    return t


def run_at(moment: datetime) -> int:
    with time_machine.travel(moment, tick=False):
        return reminders_job.run(moment)


def digests(db_session, user=None):
    stmt = select(OutboundEmail).where(OutboundEmail.idempotency_key.like("digest:%")).order_by(OutboundEmail.id)
    if user is not None:
        stmt = stmt.where(OutboundEmail.user_id == user.id)
    return db_session.scalars(stmt).all()


@pytest.mark.parametrize(("timezone", "eight_am_utc"), [
    ("Asia/Tokyo", datetime(2026, 1, 19, 23, 0, tzinfo=UTC)),        # 20 January, 08:00 JST
    ("Europe/Lisbon", datetime(2026, 1, 20, 8, 0, tzinfo=UTC)),      # winter: UTC+0
    ("America/New_York", datetime(2026, 1, 20, 13, 0, tzinfo=UTC)),  # winter: UTC-5
    ("Europe/Lisbon", datetime(2026, 3, 29, 7, 0, tzinfo=UTC)),      # the day summer time starts: UTC+1
    ("America/New_York", datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),   # the day summer time starts: UTC-4
    ("Europe/Lisbon", datetime(2026, 10, 25, 8, 0, tzinfo=UTC)),     # the day summer time ends: UTC+0 again
])
def test_digest_goes_at_eight_local_once(db_session, timezone, eight_am_utc):
    rep = f.user(timezone=timezone)
    task(rep, eight_am_utc + timedelta(hours=3))
    assert run_at(eight_am_utc - timedelta(minutes=15)) == 0
    assert run_at(eight_am_utc) == 1
    assert run_at(eight_am_utc + timedelta(minutes=15)) == 0  # the next run: nothing new
    [email] = digests(db_session, rep)
    local_date = eight_am_utc.astimezone(digest.zone_of(timezone)).date()
    assert email.idempotency_key == f"digest:{rep.id}:{local_date.isoformat()}"
    assert email.to_email == rep.email and email.subject == "Your day: 1 due today, 0 overdue"


def test_today_and_overdue_follow_the_local_day_even_when_it_has_23_hours(db_session):
    rep = f.user(timezone="Europe/Lisbon", name="Rita Reis")
    lead = f.lead(rep, f.contact(first_name="Ana", last_name="Sousa"))
    # 29 March 2026 in Lisbon runs from 00:00 UTC to 23:00 UTC (the clocks skip 01:00 to 02:00).
    task(rep, datetime(2026, 3, 28, 23, 59, tzinfo=UTC), "Yesterday's call", lead)
    task(rep, datetime(2026, 3, 29, 0, 0, tzinfo=UTC), "Midnight email", lead)
    task(rep, datetime(2026, 3, 29, 22, 59, tzinfo=UTC), "Late call", lead)
    task(rep, datetime(2026, 3, 29, 23, 0, tzinfo=UTC), "Tomorrow's call", lead)
    task(rep, datetime(2026, 3, 29, 9, 0, tzinfo=UTC), "Already done", lead, status=TaskStatus.DONE)
    task(f.user(timezone="Europe/Lisbon"), datetime(2026, 3, 29, 9, 0, tzinfo=UTC), "Someone else's", lead)
    assert run_at(datetime(2026, 3, 29, 7, 0, tzinfo=UTC)) == 2
    [email] = digests(db_session, rep)
    body = email.body_text
    assert email.subject == "Your day: 2 due today, 1 overdue"
    assert body.startswith("Good morning, Rita Reis. Here is your day.")
    today, overdue = body.split("Overdue")
    assert "Midnight email" in today and "Late call" in today
    assert "11:59\u202fPM  Late call" in today  # 22:59 UTC is 23:59 in Lisbon's summer time
    assert "Yesterday's call" in overdue and "Mar 28, 2026" in overdue
    assert "Tomorrow's call" not in body and "Already done" not in body and "Someone else's" not in body
    assert f"/leads/{lead.id}" in body


def test_the_next_day_brings_a_new_digest_and_the_afternoon_none(db_session):
    tokyo = f.user(timezone="Asia/Tokyo")
    task(tokyo, datetime(2026, 1, 20, 0, 0, tzinfo=UTC), "Overdue soon")
    assert run_at(datetime(2026, 1, 19, 23, 0, tzinfo=UTC)) == 1  # 20 January 08:00 JST
    assert run_at(datetime(2026, 1, 20, 5, 0, tzinfo=UTC)) == 0   # 14:00 JST: after noon, nothing
    assert run_at(datetime(2026, 1, 20, 23, 0, tzinfo=UTC)) == 1  # 21 January 08:00 JST
    assert [e.subject for e in digests(db_session, tokyo)] == ["Your day: 1 due today, 0 overdue",
                                                               "Your day: 0 due today, 1 overdue"]


def test_no_digest_without_tasks_or_for_inactive_users_and_a_suppressed_address_does_not_stop_others(db_session):
    idle = f.user(timezone="Europe/Lisbon")
    gone = f.user(timezone="Europe/Lisbon", active=False)
    blocked = f.user(timezone="Europe/Lisbon")
    busy = f.user(timezone="Europe/Lisbon")
    due = datetime(2026, 1, 20, 10, 0, tzinfo=UTC)
    for user in (gone, blocked, busy):
        task(user, due)
    db_session.add(Suppression(email=blocked.email, reason="bounce"))
    db_session.flush()
    assert run_at(datetime(2026, 1, 20, 8, 0, tzinfo=UTC)) == 1
    assert [e.user_id for e in digests(db_session)] == [busy.id]
    assert digests(db_session, idle) == []


def test_a_run_killed_halfway_leaves_nothing_and_the_rerun_completes(app, db_session, monkeypatch):
    users = [f.user(timezone=tz) for tz in ("Europe/Lisbon", "Europe/Lisbon", "Africa/Abidjan")]
    for user in users:
        task(user, datetime(2026, 1, 20, 12, 0, tzinfo=UTC))
    db_session.commit()
    real_queue, calls = digest.queue_digest, []

    def dies_on_the_second(*args):
        calls.append(args)
        if len(calls) == 2:
            raise OSError("killed mid-run")
        return real_queue(*args)

    monkeypatch.setattr(digest, "queue_digest", dies_on_the_second)
    with time_machine.travel(datetime(2026, 1, 20, 8, 0, tzinfo=UTC), tick=False):
        assert "OSError" in run_job("reminders").error
    assert digests(db_session) == []
    monkeypatch.setattr(digest, "queue_digest", real_queue)
    with time_machine.travel(datetime(2026, 1, 20, 8, 15, tzinfo=UTC), tick=False):
        assert run_job("reminders").items == 3
        assert run_job("reminders").items == 0
    assert sorted(e.user_id for e in digests(db_session)) == sorted(u.id for u in users)


def test_task_titles_are_text_not_template_code(db_session):
    rep = f.user(timezone="Europe/Lisbon")
    task(rep, datetime(2026, 1, 20, 10, 0, tzinfo=UTC), "{{ config }} {% for x in () %}{% endfor %}")
    assert run_at(datetime(2026, 1, 20, 8, 0, tzinfo=UTC)) == 1
    assert "{{ config }} {% for x in () %}{% endfor %}" in digests(db_session, rep)[0].body_text
