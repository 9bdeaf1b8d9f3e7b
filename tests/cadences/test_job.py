"""The cadence job: due emails queued once, however often it runs and wherever it was killed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm.attributes import set_committed_value

from crm.cadences import service as cadences
from crm.cadences.models import EnrollmentState
from crm.email.models import OutboundEmail
from crm.scheduler.models import JobRun
from crm.scheduler.runner import discover_jobs, run_job
from tests.cadences.helpers import call, default_cadence_in_place, emails_for, enrollment_of, new_lead

DUE = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)  # 09:00 WEST: the follow-up email's window opens


@pytest.fixture
def three_waiting(db_session):
    """Three Lisbon leads whose third call was unanswered late on 31 March: each owes one email at DUE."""
    default_cadence_in_place()
    leads = []
    for _ in range(3):
        lead = new_lead(datetime(2026, 3, 28, 10, 30, tzinfo=UTC), "Europe/Lisbon")
        for at in (datetime(2026, 3, 28, 10, 31, tzinfo=UTC), datetime(2026, 3, 29, 13, 5, tzinfo=UTC),
                   datetime(2026, 3, 31, 19, 45, tzinfo=UTC)):
            call(lead, at)
        leads.append(lead)
    db_session.commit()
    return leads


def outbox_count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(OutboundEmail))


def test_the_job_is_found_and_runs_every_minute(app):
    job = discover_jobs().jobs["cadence"]
    assert job.next_fire_time(datetime(2026, 4, 1, 8, 0, 30, tzinfo=UTC)) == datetime(2026, 4, 1, 8, 1, tzinfo=UTC)


def test_two_runs_in_the_same_minute_queue_each_email_once(db_session, three_waiting):
    with time_machine.travel(DUE, tick=False):
        first = run_job("cadence", now=DUE)
        second = run_job("cadence", now=DUE)
    assert (first.error, first.items, second.items) == ("", 3, 0)
    assert outbox_count(db_session) == 3
    for lead in three_waiting:
        assert len(emails_for(lead)) == 1 and enrollment_of(lead).state == EnrollmentState.COMPLETED


def test_a_run_killed_halfway_is_rolled_back_and_the_rerun_does_each_step_once(db_session, three_waiting,
                                                                               monkeypatch):
    real = cadences._do_step
    done = []

    def dies_on_the_second(enrollment, step, lead):
        if done:
            raise RuntimeError("killed")
        done.append(lead.id)
        return real(enrollment, step, lead)

    monkeypatch.setattr(cadences, "_do_step", dies_on_the_second)
    with time_machine.travel(DUE, tick=False):
        killed = run_job("cadence", now=DUE)
    assert "killed" in killed.error
    assert outbox_count(db_session) == 0  # the first email went with the rest of the run
    assert all(enrollment_of(lead).step_position == 3 for lead in three_waiting)
    monkeypatch.setattr(cadences, "_do_step", real)
    with time_machine.travel(DUE, tick=False):
        rerun = run_job("cadence", now=DUE)
    assert rerun.items == 3 and outbox_count(db_session) == 3
    assert db_session.scalar(select(func.count()).select_from(JobRun).where(JobRun.job_name == "cadence")) == 2


def test_a_step_another_run_already_moved_is_not_done_again(db_session, three_waiting):
    lead = three_waiting[0]
    enrollment = enrollment_of(lead)
    with time_machine.travel(DUE, tick=False):
        assert [r.done for r in cadences.run_due_step(enrollment, DUE)] == ["email_queued"]
        # A second worker read the row before the first moved it on: its compare-and-set loses.
        assert cadences._move_on(enrollment, 3, lead, done_at=DUE) is False
        for name, value in (("state", EnrollmentState.ACTIVE), ("step_position", 3), ("next_step_at", DUE)):
            set_committed_value(enrollment, name, value)  # what a worker that read the row earlier holds
        assert cadences.run_due_step(enrollment, DUE) == []
    assert len(emails_for(lead)) == 1
