"""Logging an outcome from the lead workspace: through log_touch, follow-ups, the lease."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.errors import ValidationFailed
from crm.extensions import db
from crm.queue.service import LeaseLost, claim_next, log_outcome
from crm.tasks.models import Task, TaskKind, TaskStatus
from crm.touches.models import Channel, Direction, Outcome, Touch
from tests.queue.conftest import T0, follow_up, make_lead


def test_logging_records_the_touch_releases_the_lease_and_marks_the_first_touch(rep):
    lead = make_lead(rep, touched=False)
    claim_next(rep, now=T0)
    touch = log_outcome(rep, lead, outcome="no_answer", talk_seconds=0, notes=" rang out ", had_lease=True,
                        now=T0 + timedelta(minutes=2))
    assert (touch.channel, touch.direction, touch.outcome, touch.body, touch.user_id) == (
        Channel.CALL, Direction.OUTBOUND, Outcome.NO_ANSWER, "rang out", rep.id)
    assert lead.first_touch_at == lead.last_touch_at == T0 + timedelta(minutes=2)
    assert lead.claimed_by_id is None and lead.claim_expires_at is None


def test_a_next_step_becomes_a_follow_up_and_due_follow_ups_are_done(rep):
    lead = make_lead(rep)
    old = follow_up(lead, rep, T0 - timedelta(hours=1))
    later = follow_up(lead, rep, T0 + timedelta(days=3))
    claim_next(rep, now=T0)
    log_outcome(rep, lead, outcome="connected", talk_seconds=240, follow_up_at=T0 + timedelta(days=1), had_lease=True,
                now=T0)
    assert (old.status, old.completed_at) == (TaskStatus.DONE, T0)
    assert later.status == TaskStatus.OPEN
    new = db.session.scalar(select(Task).where(Task.lead_id == lead.id, Task.origin == "queue"))
    assert (new.kind, new.due_at, new.assignee_id, new.status) == (TaskKind.CALL, T0 + timedelta(days=1), rep.id,
                                                                   TaskStatus.OPEN)
    assert lead.next_action_at == T0 + timedelta(days=1)


def test_a_next_step_in_the_past_is_refused_and_nothing_is_logged(rep):
    lead = make_lead(rep)
    claim_next(rep, now=T0)
    with pytest.raises(ValidationFailed) as exc:
        log_outcome(rep, lead, outcome="busy", follow_up_at=T0 - timedelta(minutes=1), had_lease=True, now=T0)
    assert "follow_up_at" in exc.value.fields
    assert db.session.scalar(select(Touch.id).where(Touch.lead_id == lead.id)) is None


def test_touch_rules_stay_with_log_touch(rep):
    lead = make_lead(rep)
    with pytest.raises(ValidationFailed) as exc:
        log_outcome(rep, lead, outcome="opened", channel="call", now=T0)
    assert "outcome" in exc.value.fields


def test_logging_on_an_expired_lease_is_refused(rep):
    lead = make_lead(rep)
    claim_next(rep, now=T0)
    with pytest.raises(LeaseLost) as exc:
        log_outcome(rep, lead, outcome="no_answer", had_lease=True, now=T0 + timedelta(minutes=16))
    assert exc.value.code == "lease_expired"


def test_logging_on_a_lead_taken_over_by_someone_else_is_refused(rep, other_rep):
    lead = make_lead(rep)
    claim_next(rep, now=T0)
    lead.claimed_by_id, lead.claim_expires_at = other_rep.id, T0 + timedelta(minutes=30)
    db.session.flush()
    with pytest.raises(LeaseLost) as exc:
        log_outcome(rep, lead, outcome="no_answer", had_lease=True, now=T0 + timedelta(minutes=1))
    assert exc.value.code == "lease_taken" and other_rep.name in exc.value.message


def test_logging_without_a_lease_is_fine_when_nobody_holds_the_lead(rep, other_rep):
    lead = make_lead(rep)
    assert log_outcome(rep, lead, outcome="voicemail", now=T0).outcome == Outcome.VOICEMAIL
    lead.claimed_by_id, lead.claim_expires_at = other_rep.id, T0 + timedelta(minutes=30)
    with pytest.raises(LeaseLost):
        log_outcome(rep, lead, outcome="voicemail", now=T0 + timedelta(minutes=1))
