"""Handing off, approving, accepting and sending back: the rules, what each step writes, and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm.audit.models import AuditEvent
from crm.auth.models import HandoffRule, Role
from crm.cadences.models import Cadence, CadenceEnrollment, EnrollmentState
from crm.email.models import OutboundEmail
from crm.errors import AccessDenied, Conflict, StageError, ValidationFailed
from crm.handoffs import service
from crm.handoffs.models import Handoff, HandoffStatus
from crm.leads.models import Stage, StageChange
from crm.leads.service import change_stage, mark_lost
from crm.tasks.models import Task, TaskKind, TaskStatus
from tests import factories as f
from tests.handoffs.conftest import FULL, NOW, TWO_MET, hand


def _actions(db_session, handoff):
    return db_session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "handoffs",
                                                              AuditEvent.entity_id == handoff.id)
                              .order_by(AuditEvent.id)).all()


def _emails_to(db_session, address):
    return db_session.scalars(select(OutboundEmail).where(OutboundEmail.to_email == address)).all()


def _snapshot(db_session, lead):
    """What a refused call must leave exactly as it was."""
    db_session.flush()
    db_session.refresh(lead)
    return (lead.stage, lead.status, lead.owner_id, lead.field_owner_id,
            db_session.scalar(select(func.count()).select_from(Handoff)),
            db_session.scalar(select(func.count()).select_from(StageChange).where(StageChange.lead_id == lead.id)),
            db_session.scalar(select(func.count()).select_from(Task)),
            db_session.scalar(select(func.count()).select_from(OutboundEmail)))


# --- handing off -------------------------------------------------------------------------------------------------

def test_qualified_hand_off_reaches_the_field_rep_with_one_email(org, db_session):
    h = hand(org)
    assert h.status == HandoffStatus.PENDING and h.submitted_at == NOW and h.created_at == NOW
    assert (h.from_user_id, h.to_user_id, h.criteria_met) == (org.rep.id, org.field.id, 4)
    assert h.budget == "€40k approved" and h.notes == "Prefers mornings."
    [email] = _emails_to(db_session, org.field.email)
    assert email.idempotency_key == f"handoff:{h.id}:to:{org.field.id}"
    assert "Fibre for 40 seats" in email.subject and "Rita Rep" in email.body_text and "CFO signs" in email.body_text
    assert f"/handoffs/{h.id}" in email.body_text
    service.notify_field_rep(h)  # a retry queues nothing new
    assert len(_emails_to(db_session, org.field.email)) == 1
    assert _actions(db_session, h) == ["handoff.submitted"]
    assert org.lead.stage == Stage.DISCOVER  # the lead moves only when accepted


def test_fewer_criteria_than_the_team_asks_waits_for_approval_without_email(org, db_session):
    h = hand(org, qualification=TWO_MET)
    assert h.status == HandoffStatus.AWAITING_APPROVAL and h.submitted_at is None
    assert _emails_to(db_session, org.field.email) == []


def test_team_threshold_zero_never_needs_approval(org, db_session):
    org.lisbon.handoff_min_criteria = 0
    assert hand(org, qualification=service.Qualification()).status == HandoffStatus.PENDING


def test_manager_approval_sends_it_on_and_records_the_approver(org, db_session):
    h = hand(org, qualification=TWO_MET)
    later = NOW + timedelta(hours=1)
    service.approve(h, actor=org.manager, now=later)
    assert h.status == HandoffStatus.PENDING and h.submitted_at == later and h.approved_by_id == org.manager.id
    assert len(_emails_to(db_session, org.field.email)) == 1
    assert _actions(db_session, h) == ["handoff.submitted", "handoff.approved"]


def test_a_manager_handing_off_below_the_threshold_approves_it_at_once(org, db_session):
    h = hand(org, qualification=TWO_MET, actor=org.manager)
    assert h.status == HandoffStatus.PENDING and h.approved_by_id == org.manager.id
    assert h.from_user_id == org.rep.id  # the inside rep keeps the credit


def test_manager_refusal_needs_a_reason_then_cancels_with_a_task_for_the_rep(org, db_session):
    h = hand(org, qualification=TWO_MET)
    with pytest.raises(ValidationFailed) as err:
        service.refuse(h, actor=org.manager, reason="  ")
    assert err.value.fields == {"reason": "A reason is required."}
    assert h.status == HandoffStatus.AWAITING_APPROVAL
    service.refuse(h, actor=org.manager, reason="Find out who signs first", now=NOW)
    assert h.status == HandoffStatus.CANCELLED and h.decided_at == NOW
    task = db_session.scalar(select(Task).where(Task.lead_id == org.lead.id))
    assert task.kind == TaskKind.HANDOFF_REVIEW and task.assignee_id == org.rep.id
    assert "Find out who signs first" in task.title and task.dedupe_key == f"handoff:{h.id}:refused"
    assert _emails_to(db_session, org.field.email) == []
    assert _actions(db_session, h) == ["handoff.submitted", "handoff.refused"]
    assert hand(org, now=NOW + timedelta(minutes=5)).status == HandoffStatus.PENDING  # a refused one is not open


@pytest.mark.parametrize("who", ["rep", "field", "manager_porto"])
def test_only_the_teams_managers_and_admins_approve(org, db_session, who):
    h = hand(org, qualification=TWO_MET)
    with pytest.raises(AccessDenied):
        service.approve(h, actor=getattr(org, who))
    assert h.status == HandoffStatus.AWAITING_APPROVAL
    service.approve(h, actor=org.admin)
    assert h.status == HandoffStatus.PENDING


def test_approving_twice_is_refused(org, db_session):
    h = hand(org, qualification=TWO_MET)
    service.approve(h, actor=org.manager)
    with pytest.raises(Conflict) as err:
        service.approve(h, actor=org.manager)
    assert err.value.code == "already_decided"


# --- accepting and sending back --------------------------------------------------------------------------------

def test_accept_gives_the_field_rep_the_lead_in_propose_and_stops_the_cadence(org, db_session):
    cadence = Cadence(name="Default three calls")
    db_session.add(cadence)
    db_session.flush()
    db_session.add(CadenceEnrollment(lead_id=org.lead.id, cadence_id=cadence.id, started_at=NOW,
                                     next_step_at=NOW + timedelta(days=1)))
    h = hand(org)
    later = NOW + timedelta(hours=3)
    service.accept(h, actor=org.field, now=later)
    assert h.status == HandoffStatus.ACCEPTED and h.decided_at == later
    lead = org.lead
    assert lead.stage == Stage.PROPOSE and lead.field_owner_id == org.field.id and lead.owner_id == org.rep.id
    moves = db_session.execute(select(StageChange.from_stage, StageChange.to_stage, StageChange.changed_by_id)
                               .where(StageChange.lead_id == lead.id, StageChange.from_stage.is_not(None))
                               .order_by(StageChange.id)).all()
    assert moves == [(Stage.DISCOVER, Stage.NURTURE, org.field.id), (Stage.NURTURE, Stage.PROPOSE, org.field.id)]
    enrollment = db_session.scalar(select(CadenceEnrollment).where(CadenceEnrollment.lead_id == lead.id))
    assert enrollment.state == EnrollmentState.STOPPED and enrollment.ended_reason == "handoff"
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "handoff.accepted"))
    assert event.actor_id == org.field.id and event.changes["seconds_to_accept"] == 3 * 3600


def test_accepting_from_nurture_is_one_stage_change(org, db_session):
    change_stage(org.lead, Stage.NURTURE, actor=org.rep)
    service.accept(hand(org), actor=org.field)
    assert org.lead.stage == Stage.PROPOSE
    assert db_session.scalar(select(func.count()).select_from(StageChange)
                             .where(StageChange.lead_id == org.lead.id, StageChange.to_stage == Stage.PROPOSE)) == 1


def test_send_back_returns_the_lead_to_nurture_with_a_follow_up_task(org, db_session):
    h = hand(org)
    service.send_back(h, actor=org.field, reason="No budget until March", now=NOW + timedelta(hours=1))
    assert h.status == HandoffStatus.REJECTED and h.rejection_reason == "No budget until March"
    assert h.decided_at == NOW + timedelta(hours=1)
    lead = org.lead
    assert lead.stage == Stage.NURTURE and lead.owner_id == org.rep.id and lead.field_owner_id is None
    [task] = db_session.scalars(select(Task).where(Task.lead_id == lead.id)).all()
    assert (task.kind, task.status, task.assignee_id, task.created_by_id, task.origin) == \
        (TaskKind.HANDOFF_REVIEW, TaskStatus.OPEN, org.rep.id, org.field.id, "handoff")
    assert task.dedupe_key == f"handoff:{h.id}:review" and task.notes == "No budget until March"
    assert task.due_at == NOW + timedelta(hours=3)  # two working hours later (Lisbon, 11:00 → 13:00)
    assert _actions(db_session, h) == ["handoff.submitted", "handoff.rejected"]


def test_a_lead_sent_back_can_be_handed_off_again(org, db_session):
    service.send_back(hand(org), actor=org.field, reason="Too early")
    again = hand(org, to=org.field_other, now=NOW + timedelta(days=2))
    assert again.status == HandoffStatus.PENDING


# --- bad input: refused, nothing changed ------------------------------------------------------------------------

@pytest.mark.parametrize("stage", [Stage.PROPOSE, Stage.CLOSE])
def test_a_lead_past_nurture_cannot_be_handed_off(org, db_session, stage):
    path = [Stage.NURTURE, Stage.PROPOSE, Stage.CLOSE]
    for step in path[: path.index(stage) + 1]:
        change_stage(org.lead, step, actor=org.rep)
    before = _snapshot(db_session, org.lead)
    with pytest.raises(StageError) as err:
        hand(org)
    assert err.value.code == "wrong_stage" and "discover or nurture" in err.value.message
    assert _snapshot(db_session, org.lead) == before


def test_a_lost_lead_cannot_be_handed_off(org, db_session):
    mark_lost(org.lead, actor=org.rep, reason=f.lost_reason().id)
    with pytest.raises(StageError):
        hand(org)


@pytest.mark.parametrize("who", ["rep_other", "manager", "field_porto"])
def test_the_target_must_be_an_active_field_rep_of_the_team(org, db_session, who):
    before = _snapshot(db_session, org.lead)
    with pytest.raises(ValidationFailed) as err:
        hand(org, to=getattr(org, who))
    assert err.value.code == "not_field_sales" and "to_user_id" in err.value.fields
    assert _snapshot(db_session, org.lead) == before


def test_an_inactive_field_rep_cannot_receive_a_hand_off(org, db_session):
    org.field.active = False
    with pytest.raises(ValidationFailed) as err:
        hand(org)
    assert "deactivated" in err.value.message


def test_an_unknown_target_is_refused(org, db_session):
    with pytest.raises(ValidationFailed) as err:
        service.hand_off(org.lead, actor=org.rep, qualification=FULL, to_user_id=999_999)
    assert err.value.code == "unknown_user"


def test_a_second_hand_off_while_one_is_open_is_refused(org, db_session):
    first = hand(org)
    before = _snapshot(db_session, org.lead)
    with pytest.raises(Conflict) as err:
        hand(org, to=org.field_other)
    assert err.value.code == "handoff_open"
    assert _snapshot(db_session, org.lead) == before and first.status == HandoffStatus.PENDING


def test_the_database_refuses_two_open_hand_offs_for_one_lead(org, db_session):
    """The unique index, without the service's check in front of it."""
    db_session.add(Handoff(lead=org.lead, from_user_id=org.rep.id, to_user_id=org.field.id,
                           status=HandoffStatus.PENDING))
    db_session.flush()
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.add(Handoff(lead=org.lead, from_user_id=org.rep.id, to_user_id=org.field_other.id,
                               status=HandoffStatus.AWAITING_APPROVAL))
        db_session.flush()


def test_a_field_rep_cannot_hand_off(org, db_session):
    service.accept(hand(org), actor=org.field)
    other = f.lead(org.rep)
    with pytest.raises(AccessDenied):
        service.hand_off(other, actor=org.field, qualification=FULL, to_user_id=org.field_other.id)


def test_accepting_a_hand_off_meant_for_someone_else_is_refused(org, db_session):
    h = hand(org)
    before = _snapshot(db_session, org.lead)
    for who in (org.field_other, org.rep, org.manager, org.admin):
        with pytest.raises(AccessDenied) as err:
            service.accept(h, actor=who)
        assert err.value.code == "not_your_handoff"
        with pytest.raises(AccessDenied):
            service.send_back(h, actor=who, reason="Not mine")
    assert _snapshot(db_session, org.lead) == before and h.status == HandoffStatus.PENDING


@pytest.mark.parametrize("first, second", [("accept", "accept"), ("accept", "send_back"), ("send_back", "accept"),
                                           ("send_back", "send_back")])
def test_deciding_twice_is_refused(org, db_session, first, second):
    h = hand(org)
    getattr(service, first)(h, actor=org.field, **({"reason": "No"} if first == "send_back" else {}))
    before = _snapshot(db_session, org.lead)
    with pytest.raises(Conflict) as err:
        getattr(service, second)(h, actor=org.field, **({"reason": "No"} if second == "send_back" else {}))
    assert err.value.code == "already_decided"
    assert _snapshot(db_session, org.lead) == before


def test_a_hand_off_awaiting_approval_cannot_be_accepted_yet(org, db_session):
    h = hand(org, qualification=TWO_MET)
    with pytest.raises(Conflict):
        service.accept(h, actor=org.field)


@pytest.mark.parametrize("reason", [None, "", "   \n"])
def test_sending_back_without_a_reason_is_refused(org, db_session, reason):
    h = hand(org)
    before = _snapshot(db_session, org.lead)
    with pytest.raises(ValidationFailed) as err:
        service.send_back(h, actor=org.field, reason=reason)
    assert err.value.fields == {"reason": "A reason is required."} and err.value.code == "reason_required"
    assert _snapshot(db_session, org.lead) == before and h.status == HandoffStatus.PENDING


def test_a_pending_hand_off_of_a_lead_lost_meanwhile_cannot_be_accepted(org, db_session):
    h = hand(org)
    mark_lost(org.lead, actor=org.rep, reason=f.lost_reason().id)
    with pytest.raises(Conflict) as err:
        service.accept(h, actor=org.field)
    assert err.value.code == "lead_closed"


def test_a_met_criterion_needs_its_answer(org, db_session):
    with pytest.raises(ValidationFailed) as err:
        hand(org, qualification=service.Qualification(budget_met=True))
    assert set(err.value.fields) == {"budget"}


# --- choosing the field rep by the team's rule --------------------------------------------------------------------

def test_territory_rule_picks_the_field_rep_covering_the_contacts_country(org, db_session):
    org.lisbon.handoff_rule = HandoffRule.TERRITORY
    assert hand(org, to="rule").to_user_id == org.field.id
    spanish = f.lead(org.rep, contact_obj=f.contact(country="es"))
    assert hand(org, spanish, to="rule").to_user_id == org.field_other.id


def test_territory_uses_the_account_country_when_the_contact_has_none(org, db_session):
    from crm.contacts.models import Account

    org.lisbon.handoff_rule = HandoffRule.TERRITORY
    account = Account(name="Acme ES", country="ES")
    db_session.add(account)
    lead = f.lead(org.rep, contact_obj=f.contact(country=None, account=account))
    assert hand(org, lead, to="rule").to_user_id == org.field_other.id


def test_territory_with_no_field_rep_for_the_country_asks_the_rep_to_choose(org, db_session):
    org.lisbon.handoff_rule = HandoffRule.TERRITORY
    lead = f.lead(org.rep, contact_obj=f.contact(country="FR"))
    with pytest.raises(ValidationFailed) as err:
        hand(org, lead, to="rule")
    assert "FR" in err.value.message and err.value.code == "no_field_rep"


def test_round_robin_takes_active_field_reps_in_turn(org, db_session):
    org.lisbon.handoff_rule = HandoffRule.ROUND_ROBIN
    third = f.user(Role.FIELD, org.lisbon, name="Inês Inactive", active=False)
    got = [hand(org, f.lead(org.rep), to="rule", now=NOW + timedelta(minutes=i)).to_user_id for i in range(4)]
    assert got[:2] in ([org.field.id, org.field_other.id], [org.field_other.id, org.field.id])
    assert got[2:] == got[:2] and third.id not in got


def test_manual_rule_needs_a_chosen_field_rep(org, db_session):
    with pytest.raises(ValidationFailed) as err:
        hand(org, to="rule")
    assert err.value.code == "no_field_rep"


# --- the first meeting, in the contact's time zone ----------------------------------------------------------------

def test_meeting_time_is_entered_in_the_contacts_zone_and_stored_in_utc(org, db_session):
    org.lead.contact.timezone = "America/New_York"
    h = hand(org, meeting_at=datetime(2026, 12, 3, 9, 30))  # 09:30 in New York
    assert h.proposed_meeting_at == datetime(2026, 12, 3, 14, 30, tzinfo=UTC)
    text = service.meeting_text(h, "Europe/Berlin")
    assert "09:30 (America/New_York)" in text and "15:30 in Europe/Berlin" in text


def test_a_meeting_time_with_an_offset_is_kept_as_that_instant(org, db_session):
    h = hand(org, meeting_at=datetime(2026, 12, 3, 9, 30, tzinfo=UTC))
    assert h.proposed_meeting_at == datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


def test_a_local_time_skipped_by_the_clock_change_is_refused(org, db_session):
    with pytest.raises(ValidationFailed) as err:
        hand(org, meeting_at=datetime(2027, 3, 28, 1, 30))  # Lisbon jumps from 01:00 to 02:00
    assert "proposed_meeting_at" in err.value.fields
    assert db_session.scalar(select(func.count()).select_from(Handoff)) == 0


def test_a_meeting_in_the_past_is_refused(org, db_session):
    with pytest.raises(ValidationFailed) as err:
        hand(org, meeting_at=datetime(2026, 11, 30, 9, 0))
    assert err.value.fields == {"proposed_meeting_at": "This time has passed."}
