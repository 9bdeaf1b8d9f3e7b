"""The cadence engine: three calls spread over days and times of day in the contact's zone, then one email."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
import time_machine
from sqlalchemy import delete, func, select

from crm.audit.models import AuditEvent
from crm.cadences import service as cadences
from crm.cadences.models import Cadence, CadenceEnrollment, CadenceStep, EnrollmentState
from crm.email.models import EmailTemplate, Suppression
from crm.handoffs.models import Handoff, HandoffStatus
from crm.leads.models import Stage, StageChange
from crm.leads.service import change_stage, mark_lost
from crm.touches.models import Channel
from crm.touches.service import log_touch
from jobs import cadence as cadence_job
from tests import factories as f
from tests.cadences.helpers import call, default_cadence_in_place, emails_for, enrollment_of, new_lead


@pytest.fixture(autouse=True)
def default_cadence(db_session):
    default_cadence_in_place()


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def run_job_at(moment: datetime) -> int:
    with time_machine.travel(moment, tick=False):
        return cadence_job.run(moment)


# ---------------------------------------------------------------- enrolling, across zones

@pytest.mark.parametrize(("timezone", "created", "first_due"), [
    # 08:00 in Tokyo (23:00 UTC the day before): the first call waits for 09:00 JST.
    ("Asia/Tokyo", utc(2026, 3, 27, 23, 0), utc(2026, 3, 28, 0, 0)),
    # 10:30 in Lisbon (winter, UTC+0), inside the morning window: due at once.
    ("Europe/Lisbon", utc(2026, 3, 28, 10, 30), utc(2026, 3, 28, 10, 30)),
    # 22:00 in Lisbon, after the window: tomorrow morning, now in summer time (09:00 WEST = 08:00 UTC).
    ("Europe/Lisbon", utc(2026, 3, 28, 22, 0), utc(2026, 3, 29, 8, 0)),
])
def test_new_lead_is_enrolled_on_the_first_call_in_the_contacts_morning(db_session, timezone, created, first_due):
    lead = new_lead(created, timezone)
    enrollment = enrollment_of(lead)
    assert enrollment.state == EnrollmentState.ACTIVE and enrollment.step_position == 0
    assert enrollment.started_at == created and enrollment.next_step_at == first_due


def test_a_lead_without_any_cadence_is_not_enrolled(db_session):
    db_session.execute(delete(Cadence))
    lead = new_lead(utc(2026, 3, 28, 10, 0), "Europe/Lisbon")
    assert db_session.scalar(select(CadenceEnrollment).where(CadenceEnrollment.lead_id == lead.id)) is None


def test_the_campaigns_cadence_wins_over_the_default(db_session):
    own = Cadence(name="Webinar", steps=[CadenceStep(position=0, day_offset=2, channel=Channel.CALL,
                                                     window_start=time(15), window_end=time(16))])
    db_session.add(own)
    db_session.flush()
    campaign = f.campaign(cadence_id=own.id)
    rep = f.user()
    with time_machine.travel(utc(2026, 3, 2, 9, 0), tick=False):
        lead = f.lead(rep, campaign=campaign)
    enrollment = enrollment_of(lead)
    assert enrollment.cadence_id == own.id and enrollment.next_step_at == utc(2026, 3, 4, 15, 0)
    own.active = False
    with time_machine.travel(utc(2026, 3, 2, 9, 0), tick=False):
        other = f.lead(rep, campaign=campaign)
    assert enrollment_of(other).cadence.is_default


# ---------------------------------------------------------------- the walk through the steps

@pytest.mark.parametrize(("timezone", "created", "due"), [
    # Tokyo (UTC+9, no summer time): 09:00, next day 14:00, day 3 17:00 JST.
    ("Asia/Tokyo", utc(2026, 3, 27, 23, 0), [utc(2026, 3, 28, 0, 0), utc(2026, 3, 29, 5, 0), utc(2026, 3, 31, 8, 0)]),
    # Lisbon across the change to summer time on 29 March: 10:30 WET, then 14:00 and 17:00 WEST (UTC+1).
    ("Europe/Lisbon", utc(2026, 3, 28, 10, 30),
     [utc(2026, 3, 28, 10, 30), utc(2026, 3, 29, 13, 0), utc(2026, 3, 31, 16, 0)]),
    # And back on 25 October: 11:30 WEST, then 14:00 and 17:00 WET (UTC+0).
    ("Europe/Lisbon", utc(2026, 10, 24, 10, 30),
     [utc(2026, 10, 24, 10, 30), utc(2026, 10, 25, 14, 0), utc(2026, 10, 27, 17, 0)]),
])
def test_calls_spread_over_days_and_times_of_day_in_the_contacts_zone(db_session, timezone, created, due):
    lead = new_lead(created, timezone)
    seen = []
    for i in range(3):
        enrollment = enrollment_of(lead)
        assert enrollment.step_position == i
        seen.append(enrollment.next_step_at)
        call(lead, enrollment.next_step_at, "no_answer" if i != 1 else "voicemail")
    assert seen == due


def test_third_no_answer_queues_exactly_one_email(db_session):
    lead = new_lead(utc(2026, 3, 28, 10, 30), "Europe/Lisbon", first_name="Ana", email="ana@example.pt")
    for at in (utc(2026, 3, 28, 10, 31), utc(2026, 3, 29, 13, 5), utc(2026, 3, 31, 16, 10)):
        call(lead, at)
    [email] = emails_for(lead)
    enrollment = enrollment_of(lead)
    assert email.template_key == "follow_up" and email.idempotency_key == f"cadence:{enrollment.id}:3"
    assert email.to_email == "ana@example.pt" and email.subject == "Following up, Ana"
    assert lead.owner.name in email.body_text
    assert enrollment.state == EnrollmentState.COMPLETED and enrollment.ended_reason == "finished_unreached"
    assert enrollment.next_step_at is None
    # The lead moved to nurture through the stage rules: a StageChange by nobody (the engine).
    assert lead.stage == Stage.NURTURE
    change = db_session.scalars(select(StageChange).where(StageChange.lead_id == lead.id)
                                .order_by(StageChange.id.desc())).first()
    assert (change.from_stage, change.to_stage, change.changed_by_id) == (Stage.DISCOVER, Stage.NURTURE, None)
    # The job, then another call, add nothing.
    assert run_job_at(utc(2026, 3, 31, 16, 11)) == 0
    call(lead, utc(2026, 4, 1, 10, 0))
    assert len(emails_for(lead)) == 1


def test_the_email_waits_for_its_window_when_the_third_call_is_late_in_the_evening(db_session):
    lead = new_lead(utc(2026, 3, 28, 10, 30), "Europe/Lisbon")
    call(lead, utc(2026, 3, 28, 10, 31))
    call(lead, utc(2026, 3, 29, 13, 5))
    call(lead, utc(2026, 3, 31, 19, 45))  # 20:45 WEST: inside calling hours, after the email's 20:00
    enrollment = enrollment_of(lead)
    assert enrollment.step_position == 3 and enrollment.next_step_at == utc(2026, 4, 1, 8, 0)
    assert emails_for(lead) == []
    assert run_job_at(utc(2026, 4, 1, 7, 59)) == 0
    assert run_job_at(utc(2026, 4, 1, 8, 0)) == 1
    assert len(emails_for(lead)) == 1 and enrollment_of(lead).state == EnrollmentState.COMPLETED


# ---------------------------------------------------------------- what ends a cadence

def test_a_connected_call_ends_the_cadence_and_no_email_follows(db_session):
    lead = new_lead(utc(2026, 3, 28, 10, 30), "Europe/Lisbon")
    call(lead, utc(2026, 3, 28, 10, 31))
    call(lead, utc(2026, 3, 29, 13, 5), "connected", talk_seconds=240)
    enrollment = enrollment_of(lead)
    assert enrollment.state == EnrollmentState.STOPPED and enrollment.ended_reason == "connected"
    assert enrollment.next_step_at is None
    call(lead, utc(2026, 3, 31, 16, 10))
    assert run_job_at(utc(2026, 4, 2, 9, 0)) == 0
    assert emails_for(lead) == [] and lead.stage == Stage.DISCOVER


def test_a_call_a_phone_system_updates_to_connected_ends_the_cadence(db_session):
    """Dialler calls grow over several events: the outcome set later drives the cadence like a logged one."""
    from crm.touches.service import update_touch

    lead = new_lead(utc(2026, 3, 28, 10, 30), "Europe/Lisbon")
    with time_machine.travel(utc(2026, 3, 28, 10, 31), tick=False):
        dialled = log_touch(contact=lead.contact, lead=lead, channel="call", direction="outbound",
                            outcome="queued", provider="dialler", external_id="call-1").touch
    assert enrollment_of(lead).state == EnrollmentState.ACTIVE and enrollment_of(lead).step_position == 0
    with time_machine.travel(utc(2026, 3, 28, 10, 32), tick=False):
        update_touch(dialled, outcome="connected", talk_seconds=95)
    assert enrollment_of(lead).state == EnrollmentState.STOPPED and enrollment_of(lead).ended_reason == "connected"


def test_an_unanswered_call_corrected_by_its_provider_moves_the_cadence_on_once(db_session):
    from crm.touches.service import update_touch

    lead = new_lead(utc(2026, 3, 28, 10, 30), "Europe/Lisbon")
    with time_machine.travel(utc(2026, 3, 28, 10, 31), tick=False):
        missed = log_touch(contact=lead.contact, lead=lead, channel="call", direction="outbound",
                           outcome="no_answer", provider="dialler", external_id="call-2").touch
        assert enrollment_of(lead).step_position == 1
        update_touch(missed, outcome="voicemail")  # the same attempt, better described
    assert enrollment_of(lead).step_position == 1 and enrollment_of(lead).state == EnrollmentState.ACTIVE


def test_a_reply_ends_the_cadence(db_session):
    lead = new_lead(utc(2026, 3, 28, 10, 30), "Europe/Lisbon")
    call(lead, utc(2026, 3, 28, 10, 31))
    with time_machine.travel(utc(2026, 3, 28, 15, 0), tick=False):
        log_touch(contact=lead.contact, lead=lead, channel="email", direction="inbound", outcome="replied")
    assert enrollment_of(lead).ended_reason == "replied"


def test_a_hand_off_ends_the_cadence_at_once_or_on_the_next_job_run(db_session):
    rep, field = f.user(), f.user("field")
    first = new_lead(utc(2026, 3, 28, 10, 30), "Europe/Lisbon", owner=rep)
    assert cadences.on_handoff(first).ended_reason == "handoff"
    second = new_lead(utc(2026, 3, 28, 10, 30), "Europe/Lisbon", owner=rep)
    db_session.add(Handoff(lead_id=second.id, from_user_id=rep.id, to_user_id=field.id, status=HandoffStatus.PENDING))
    db_session.flush()
    assert run_job_at(utc(2026, 3, 28, 10, 31)) == 1
    assert enrollment_of(second).state == EnrollmentState.STOPPED and enrollment_of(second).ended_reason == "handoff"


def test_a_lost_lead_leaves_its_cadence(db_session):
    lead = new_lead(utc(2026, 3, 28, 10, 30), "Europe/Lisbon")
    mark_lost(lead, actor=lead.owner, reason=f.lost_reason().id)
    assert run_job_at(utc(2026, 3, 28, 10, 31)) == 1
    assert enrollment_of(lead).ended_reason == "closed"


def test_a_call_while_the_email_is_pending_does_not_skip_the_email(db_session):
    lead = new_lead(utc(2026, 3, 28, 10, 30), "Europe/Lisbon")
    call(lead, utc(2026, 3, 28, 10, 31))
    call(lead, utc(2026, 3, 29, 13, 5))
    call(lead, utc(2026, 3, 31, 19, 45))
    call(lead, utc(2026, 3, 31, 19, 50))  # a fourth try: the cadence still waits on its email
    assert enrollment_of(lead).step_position == 3
    run_job_at(utc(2026, 4, 1, 8, 0))
    assert len(emails_for(lead)) == 1


# ---------------------------------------------------------------- calling hours and consent

def test_call_windows_are_cut_to_calling_hours(app, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "CALLING_HOURS", "10:00-18:00")
    lead = new_lead(utc(2026, 3, 27, 23, 0), "Asia/Tokyo")  # 08:00 JST
    assert enrollment_of(lead).next_step_at == utc(2026, 3, 28, 1, 0)  # 10:00 JST, not the step's 09:00
    call(lead, utc(2026, 3, 28, 1, 5))
    call(lead, utc(2026, 3, 29, 5, 5))
    # The third step's 17:00-20:00 window is cut to 17:00-18:00; a call at 18:30 JST pushes it to day 4.
    assert enrollment_of(lead).next_step_at == utc(2026, 3, 31, 8, 0)


@pytest.mark.parametrize(("moment", "tokyo", "lisbon"), [
    (utc(2026, 3, 28, 0, 0), True, False),  # 09:00 in Tokyo, midnight in Lisbon
    (utc(2026, 3, 28, 12, 30), False, True),  # 21:30 in Tokyo, 12:30 in Lisbon
    (utc(2026, 3, 29, 19, 59), False, True),  # 20:59 in Lisbon, summer time
    (utc(2026, 3, 29, 20, 0), False, False),  # 21:00 in Lisbon: calling hours are over
])
def test_calling_hours_are_read_in_the_contacts_zone(app, moment, tokyo, lisbon):
    assert cadences.within_calling_hours(moment, "Asia/Tokyo") is tokyo
    assert cadences.within_calling_hours(moment, "Europe/Lisbon") is lisbon


def test_do_not_call_contacts_skip_the_calls_and_get_only_the_email(db_session):
    lead = new_lead(utc(2026, 3, 28, 10, 30), "Europe/Lisbon", do_not_call=True)
    enrollment = enrollment_of(lead)
    assert enrollment.step_position == 3 and enrollment.next_step_at == utc(2026, 3, 31, 8, 0)  # day 3, 09:00 WEST
    assert run_job_at(utc(2026, 3, 31, 8, 0)) == 1
    assert len(emails_for(lead)) == 1


def test_a_contact_who_asks_not_to_be_called_mid_cadence_skips_the_remaining_calls(db_session):
    lead = new_lead(utc(2026, 3, 28, 10, 30), "Europe/Lisbon")
    call(lead, utc(2026, 3, 28, 10, 31))
    lead.contact.do_not_call = True
    db_session.flush()
    assert run_job_at(utc(2026, 3, 29, 13, 0)) == 1
    assert enrollment_of(lead).step_position == 3


@pytest.mark.parametrize("blocked", ["opted_out", "suppressed"])
def test_opted_out_or_suppressed_contacts_skip_the_email_step(db_session, blocked):
    lead = new_lead(utc(2026, 3, 28, 10, 30), "Europe/Lisbon", email="no.mail@example.pt",
                    email_opt_out=blocked == "opted_out")
    if blocked == "suppressed":
        db_session.add(Suppression(email="no.mail@example.pt", reason="bounce"))
        db_session.flush()
    for at in (utc(2026, 3, 28, 10, 31), utc(2026, 3, 29, 13, 5), utc(2026, 3, 31, 16, 10)):
        call(lead, at)
    assert emails_for(lead) == []
    assert enrollment_of(lead).state == EnrollmentState.COMPLETED and lead.stage == Stage.NURTURE


def test_a_lead_reached_another_way_gets_no_only_if_unreached_email(db_session):
    lead = new_lead(utc(2026, 3, 28, 10, 30), "Europe/Lisbon")
    change_stage(lead, "nurture", actor=lead.owner)
    for at in (utc(2026, 3, 28, 10, 31), utc(2026, 3, 29, 13, 5)):
        call(lead, at)
    # A meeting held is logged without the cadence seeing it (e.g. imported history).
    from crm.touches.models import Touch
    db_session.add(Touch(contact_id=lead.contact_id, lead_id=lead.id, channel=Channel.MEETING, direction="outbound",
                         outcome="held", occurred_at=utc(2026, 3, 30, 10, 0)))
    db_session.flush()
    call(lead, utc(2026, 3, 31, 16, 10))
    assert emails_for(lead) == []
    assert enrollment_of(lead).ended_reason == "finished"


# ---------------------------------------------------------------- a missing template

def test_a_step_whose_template_is_missing_is_skipped_with_an_alert(db_session):
    db_session.execute(delete(EmailTemplate).where(EmailTemplate.key == "follow_up"))
    lead = new_lead(utc(2026, 3, 28, 10, 30), "Europe/Lisbon")
    for at in (utc(2026, 3, 28, 10, 31), utc(2026, 3, 29, 13, 5), utc(2026, 3, 31, 16, 10)):
        call(lead, at)
    assert emails_for(lead) == []
    enrollment = enrollment_of(lead)
    assert enrollment.state == EnrollmentState.COMPLETED and lead.stage == Stage.NURTURE
    [alert] = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "cadence.template_missing")).all()
    assert alert.entity_id == enrollment.cadence_id
    assert alert.changes == {"step_position": 3, "template_key": "follow_up", "lead_id": lead.id}
    assert [s.position for s in cadences.missing_templates(enrollment.cadence)] == [3]


# ---------------------------------------------------------------- other channels

def test_an_sms_step_becomes_one_task_for_the_owner(db_session):
    cadence = Cadence(name="SMS first", is_default=False, steps=[
        CadenceStep(position=0, day_offset=0, channel=Channel.SMS, window_start=time(9), window_end=time(18))])
    db_session.add(cadence)
    db_session.flush()
    rep = f.user()
    with time_machine.travel(utc(2026, 3, 2, 8, 0), tick=False):
        lead = f.lead(rep, campaign=f.campaign(cadence_id=cadence.id))
    assert run_job_at(utc(2026, 3, 2, 9, 0)) == 1
    assert run_job_at(utc(2026, 3, 2, 9, 0)) == 0
    from crm.tasks.models import Task
    [task] = db_session.scalars(select(Task).where(Task.lead_id == lead.id)).all()
    assert task.assignee_id == rep.id and task.origin == "cadence" and task.due_at == utc(2026, 3, 2, 9, 0)
    assert db_session.scalar(select(func.count()).select_from(Task)) == 1


@pytest.mark.parametrize(("setting", "message"), [("8h-21h", "must look like 08:00-21:00"),
                                                  ("21:00-08:00", "must end after it starts")])
def test_a_malformed_calling_hours_setting_is_a_clear_error(app, monkeypatch, setting, message):
    monkeypatch.setitem(app.config, "CALLING_HOURS", setting)
    with pytest.raises(ValueError, match=message):
        cadences.calling_hours()
