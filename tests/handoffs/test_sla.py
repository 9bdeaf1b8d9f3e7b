"""The acceptance limit: counted in working hours (08:00–18:00, Monday–Friday) in the team's zone; flagged once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

import jobs.sla
from crm.audit.models import AuditEvent
from crm.auth.models import Role
from crm.email.models import OutboundEmail
from crm.handoffs import service
from crm.handoffs.models import Handoff
from crm.handoffs.working_hours import add_working_hours, working_hours_between
from crm.scheduler.runner import run_job
from tests import factories as f
from tests.handoffs.conftest import FULL, TWO_MET

FRIDAY_5PM_LISBON = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)  # Lisbon is on UTC in December


@pytest.mark.parametrize("start, zone, hours, due", [
    # Friday 17:00 + 8 working hours: 1 on Friday, 7 on Monday → Monday 15:00.
    (FRIDAY_5PM_LISBON, "Europe/Lisbon", 8, datetime(2026, 12, 7, 15, 0, tzinfo=UTC)),
    # New York, Friday 16:00 EST (21:00 UTC): 2 on Friday, 6 on Monday → Monday 14:00 EST (19:00 UTC).
    (datetime(2026, 12, 4, 21, 0, tzinfo=UTC), "America/New_York", 8, datetime(2026, 12, 7, 19, 0, tzinfo=UTC)),
    # Tokyo: Sunday 23:00 UTC is Monday 08:00 there → Monday 16:00 JST (07:00 UTC), the same "day" as UTC's Sunday.
    (datetime(2026, 12, 6, 23, 0, tzinfo=UTC), "Asia/Tokyo", 8, datetime(2026, 12, 7, 7, 0, tzinfo=UTC)),
    # Before opening time counts from 08:00: Tuesday 06:00 Lisbon → Tuesday 16:00.
    (datetime(2026, 12, 1, 6, 0, tzinfo=UTC), "Europe/Lisbon", 8, datetime(2026, 12, 1, 16, 0, tzinfo=UTC)),
    # Saturday: nothing counts until Monday 08:00.
    (datetime(2026, 12, 5, 11, 0, tzinfo=UTC), "Europe/Lisbon", 2, datetime(2026, 12, 7, 10, 0, tzinfo=UTC)),
    # A US clock change on Sunday 14 March 2027: Friday 15:00 EST + 8 → Monday 13:00 EDT (17:00 UTC, not 18:00).
    (datetime(2027, 3, 12, 20, 0, tzinfo=UTC), "America/New_York", 8, datetime(2027, 3, 15, 17, 0, tzinfo=UTC)),
    # Twenty working hours is two days: Tuesday 10:00 → Thursday 10:00.
    (datetime(2026, 12, 1, 10, 0, tzinfo=UTC), "Europe/Lisbon", 20, datetime(2026, 12, 3, 10, 0, tzinfo=UTC)),
])
def test_working_hours_skip_nights_and_weekends_in_the_teams_zone(start, zone, hours, due):
    assert add_working_hours(start, hours, zone) == due
    assert working_hours_between(start, due, zone) == pytest.approx(hours)


def test_no_working_hours_pass_over_a_weekend():
    assert working_hours_between(datetime(2026, 12, 4, 18, 0, tzinfo=UTC), datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
                                 "Europe/Lisbon") == 0


def _hand_at(org, moment, lead=None, **kw):
    with time_machine.travel(moment, tick=False):
        return service.hand_off(lead or org.lead, actor=org.rep, qualification=kw.pop("qualification", FULL),
                                to_user_id=kw.pop("to", org.field).id, **kw)


def _sla_emails(db_session):
    return db_session.scalars(select(OutboundEmail).where(OutboundEmail.idempotency_key.like("handoff-sla:%"))
                              .order_by(OutboundEmail.id)).all()


def test_friday_evening_hand_off_is_flagged_on_monday_afternoon_once(org, db_session):
    h = _hand_at(org, FRIDAY_5PM_LISBON)
    for moment in (datetime(2026, 12, 5, 12, 0, tzinfo=UTC), datetime(2026, 12, 7, 14, 59, tzinfo=UTC)):
        with time_machine.travel(moment, tick=False):
            assert run_job("sla").items == 0
    assert h.sla_flagged_at is None and _sla_emails(db_session) == []

    monday_3pm = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
    with time_machine.travel(monday_3pm, tick=False):
        assert run_job("sla").items == 1
    db_session.refresh(h)
    assert h.sla_flagged_at == monday_3pm
    [email] = _sla_emails(db_session)  # the Lisbon manager, not Porto's
    assert email.to_email == org.manager.email and email.idempotency_key == f"handoff-sla:{h.id}:{org.manager.id}"
    assert "Filipa Field" in email.body_text and "8 working hours" in email.body_text

    with time_machine.travel(monday_3pm + timedelta(minutes=5), tick=False):
        assert run_job("sla").items == 0
    db_session.refresh(h)
    assert h.sla_flagged_at == monday_3pm and len(_sla_emails(db_session)) == 1
    flagged = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "handoff.sla_flagged")).all()
    assert [(e.entity_id, e.changes["to_user_id"]) for e in flagged] == [(h.id, org.field.id)]


def test_each_team_counts_in_its_own_zone(org, db_session):
    """Same instant handed off; New York's working day still runs when Lisbon's limit has passed."""
    york = f.team("New York", timezone="America/New_York")
    york_rep, york_field = f.user(Role.REP, york), f.user(Role.FIELD, york)
    f.user(Role.MANAGER, york)
    tuesday_9am_utc = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # Lisbon 09:00, New York 04:00
    lisbon_one = _hand_at(org, tuesday_9am_utc)
    with time_machine.travel(tuesday_9am_utc, tick=False):
        york_one = service.hand_off(f.lead(york_rep), actor=york_rep, qualification=FULL, to_user_id=york_field.id)
    # Lisbon: 09:00 + 8 → 17:00 UTC. New York: from 08:00 EST (13:00 UTC) + 8 → 21:00 UTC.
    assert service.flag_overdue_handoffs(datetime(2026, 12, 1, 17, 0, tzinfo=UTC)) == 1
    assert lisbon_one.sla_flagged_at is not None and york_one.sla_flagged_at is None
    assert service.flag_overdue_handoffs(datetime(2026, 12, 1, 20, 59, tzinfo=UTC)) == 0
    assert service.flag_overdue_handoffs(datetime(2026, 12, 1, 21, 0, tzinfo=UTC)) == 1


def test_the_teams_own_limit_applies(org, db_session):
    org.lisbon.handoff_sla_hours = 2
    h = _hand_at(org, datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    assert service.flag_overdue_handoffs(datetime(2026, 12, 1, 11, 59, tzinfo=UTC)) == 0
    assert service.flag_overdue_handoffs(datetime(2026, 12, 1, 12, 0, tzinfo=UTC)) == 1 and h.sla_flagged_at


def test_decided_and_unapproved_hand_offs_are_never_flagged(org, db_session):
    start = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    accepted = _hand_at(org, start)
    service.accept(accepted, actor=org.field, now=start + timedelta(hours=1))
    waiting = _hand_at(org, start, lead=f.lead(org.rep), qualification=TWO_MET)
    sent_back = _hand_at(org, start, lead=f.lead(org.rep))
    service.send_back(sent_back, actor=org.field, reason="Too early", now=start + timedelta(hours=1))
    assert service.flag_overdue_handoffs(start + timedelta(days=30)) == 0
    assert all(h.sla_flagged_at is None for h in (accepted, waiting, sent_back))


def test_the_limit_counts_from_approval_not_from_the_request(org, db_session):
    h = _hand_at(org, datetime(2026, 12, 1, 8, 0, tzinfo=UTC), qualification=TWO_MET)
    service.approve(h, actor=org.manager, now=datetime(2026, 12, 1, 14, 0, tzinfo=UTC))
    # 14:00 + 8 working hours: 4 on Tuesday, 4 on Wednesday → Wednesday 12:00.
    assert service.flag_overdue_handoffs(datetime(2026, 12, 2, 11, 59, tzinfo=UTC)) == 0
    assert service.flag_overdue_handoffs(datetime(2026, 12, 2, 12, 0, tzinfo=UTC)) == 1


def test_the_sla_job_sums_its_checks(monkeypatch):
    monkeypatch.setattr(jobs.sla, "CHECKS", (lambda now: 2, lambda now: 3))
    assert jobs.sla.run(datetime(2026, 12, 1, tzinfo=UTC)) == 5
    assert jobs.sla.NAME == "sla" and jobs.sla.SCHEDULE == {"trigger": "cron", "minute": "*/5"}


def test_a_manager_with_a_suppressed_address_does_not_stop_the_flag(org, db_session):
    from crm.email.models import Suppression

    db_session.add(Suppression(email=org.manager.email.lower(), reason="bounce"))
    h = _hand_at(org, datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    assert service.flag_overdue_handoffs(datetime(2026, 12, 2, 8, 0, tzinfo=UTC)) == 1
    assert h.sla_flagged_at is not None and _sla_emails(db_session) == []
    assert db_session.scalar(select(Handoff.sla_flagged_at).where(Handoff.id == h.id)) is not None
