"""Touches logged together (log_touches: the call webhook's batches, the outbox) drive cadences as one by one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from crm.cadences.models import EnrollmentState
from crm.touches.service import log_touches
from tests.cadences.helpers import default_cadence_in_place, enrollment_of, new_lead

AT = datetime(2026, 3, 28, 10, 30, tzinfo=UTC)
LATER = datetime(2026, 3, 28, 10, 45, tzinfo=UTC)


@pytest.fixture(autouse=True)
def default_cadence(db_session):
    default_cadence_in_place()


def _touch(lead, n, outcome, direction="inbound"):
    return {"contact": lead.contact, "lead": lead, "channel": "call", "direction": direction, "outcome": outcome,
            "occurred_at": LATER, "provider": "acd", "external_id": f"batch-{lead.id}-{n}"}


def test_connected_calls_logged_together_stop_each_cadence_once_with_the_first_reason(db_session):
    reached, also, untouched = (new_lead(AT, "Europe/Lisbon") for _ in range(3))
    with time_machine.travel(LATER, tick=False):
        log_touches([_touch(reached, 1, "connected"), _touch(reached, 2, "connected"), _touch(also, 1, "connected"),
                     _touch(untouched, 1, "queued")])
    for lead in (reached, also):
        enrollment = enrollment_of(lead)
        assert (enrollment.state, enrollment.ended_reason, enrollment.ended_at, enrollment.next_step_at) == (
            EnrollmentState.STOPPED, "connected", LATER, None)
    assert enrollment_of(untouched).state == EnrollmentState.ACTIVE


def test_an_unanswered_call_among_them_is_applied_in_order(db_session):
    """An unanswered outbound call moves its cadence on, then the connected one ends it: one by one, in order."""
    lead, other = new_lead(AT, "Europe/Lisbon"), new_lead(AT, "Europe/Lisbon")
    with time_machine.travel(LATER, tick=False):
        log_touches([_touch(lead, 1, "no_answer", "outbound"), _touch(other, 1, "connected")])
    moved, stopped = enrollment_of(lead), enrollment_of(other)
    assert moved.state == EnrollmentState.ACTIVE and moved.step_position == 1
    assert (stopped.state, stopped.ended_reason) == (EnrollmentState.STOPPED, "connected")
