"""The cadence engine: enrolling new leads, moving them step by step, ending the cadence.

A lead's CadenceEnrollment points at one step (``step_position``) and says when it is
due (``next_step_at``, UTC). Call steps that are due are queue items: the queue reads
active enrollments by ``next_step_at``. Every other step is done by the engine itself,
from the ``cadence`` job or straight after the touch that made it due:

- email: the step's template is queued in the outbox with the key
  ``cadence:{enrollment_id}:{position}`` (so never twice), unless the contact opted out
  or is suppressed, or (``only_if_unreached``) the lead was reached;
- chat, SMS, social, meeting: a task for the lead's owner, keyed the same way.

A call attempt that did not connect moves the lead to the next step; a connected call,
a reply, a hand-off, or the lead being won or lost ends the cadence. When the last step
is done and the lead was never reached, it moves from discover to nurture.

Step times: day ``day_offset`` after enrolment in the contact's calendar, inside the
step's local window (and, for calls, inside CALLING_HOURS), never before the previous
step was done. Every change of position is a compare-and-set on (id, position), so two
job runs, or a job and a touch, never do one step twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.orm import selectinload

from crm.audit.models import AuditEvent
from crm.audit.service import record
from crm.cadences.models import Cadence, CadenceEnrollment, CadenceStep, EnrollmentState
from crm.calling_hours import calling_hours
from crm.contacts.models import Contact
from crm.db import bulk_insert, is_postgresql, utcnow, write_columns
from crm.email.models import EmailTemplate
from crm.email.outbox import EmailBlocked, is_suppressed, queue_email
from crm.errors import NotFound, ValidationFailed
from crm.extensions import db
from crm.handoffs.models import Handoff, HandoffStatus
from crm.i18n import in_language_of, zone_of
from crm.labels import label
from crm.leads.models import Campaign, Lead, LeadStatus, Stage
from crm.tasks.dedupe import add_once
from crm.tasks.models import Task, TaskKind
from crm.touches.models import REACHED_OUTCOMES, Channel, Direction, Outcome, Touch

log = logging.getLogger(__name__)

# A call attempt with one of these outcomes did not reach the contact: on to the next step.
UNANSWERED_CALL_OUTCOMES = frozenset({Outcome.NO_ANSWER, Outcome.BUSY, Outcome.VOICEMAIL, Outcome.WRONG_NUMBER,
                                      Outcome.ABANDONED})
# Hand-offs that take the lead out of inside sales' hands (rejected and cancelled ones give it back).
LIVE_HANDOFF_STATUSES = (HandoffStatus.AWAITING_APPROVAL, HandoffStatus.PENDING, HandoffStatus.ACCEPTED)
STOP_REASONS = {
    Outcome.CONNECTED: "connected", Outcome.REPLIED: "replied", Outcome.HELD: "met",
}
MISSING_TEMPLATE_ACTION = "cadence.template_missing"
BATCH = 500


# ---------------------------------------------------------------- time windows

def within_calling_hours(moment: datetime, timezone: str) -> bool:
    """Is ``moment`` inside CALLING_HOURS in the zone ``timezone`` (the contact's)?"""
    start, end = calling_hours()
    return start <= moment.astimezone(zone_of(timezone)).time() < end


def step_window(step: CadenceStep) -> tuple[time, time]:
    """The step's local window; a call step's is cut to calling hours (all of them if they do not meet)."""
    start, end = step.window_start, step.window_end
    if step.channel == Channel.CALL:
        call_start, call_end = calling_hours()
        start, end = max(start, call_start), min(end, call_end)
        if end <= start:
            start, end = call_start, call_end
    return start, end


def step_due_at(step: CadenceStep, *, started_at: datetime, not_before: datetime, timezone: str) -> datetime:
    """When ``step`` is due (UTC): its day after ``started_at`` in the contact's calendar, in its window,
    and not before ``not_before`` (when the previous step was done)."""
    zone = zone_of(timezone)
    start, end = step_window(step)
    earliest = not_before.astimezone(zone)
    day = max(started_at.astimezone(zone).date() + timedelta(days=step.day_offset), earliest.date())
    opens = datetime.combine(day, start, tzinfo=zone)
    if earliest <= opens:
        return opens.astimezone(UTC)
    if earliest < datetime.combine(day, end, tzinfo=zone):
        return earliest.astimezone(UTC)  # inside today's window: due at once
    return datetime.combine(day + timedelta(days=1), start, tzinfo=zone).astimezone(UTC)


# ---------------------------------------------------------------- enrolling

def default_cadence() -> Cadence | None:
    return db.session.scalar(select(Cadence).where(Cadence.is_default.is_(True), Cadence.active.is_(True))
                             .order_by(Cadence.id).limit(1))


def cadence_for(lead: Lead) -> Cadence | None:
    """The lead's campaign's cadence when it has an active one, else the default cadence."""
    if lead.campaign is not None and lead.campaign.cadence_id:
        cadence = db.session.get(Cadence, lead.campaign.cadence_id)
        if cadence is not None and cadence.active:
            return cadence
    return default_cadence()


def enroll(lead: Lead, *, now: datetime | None = None) -> CadenceEnrollment | None:
    """Put a new open lead on the first step of its cadence; None when there is no cadence (or no steps)."""
    if lead.status != LeadStatus.OPEN:
        return None
    cadence = cadence_for(lead)
    if cadence is None or not cadence.steps:
        return None
    existing = db.session.scalar(select(CadenceEnrollment).where(CadenceEnrollment.lead_id == lead.id))
    if existing is not None:
        return existing
    enrollment = _new_enrollment(lead, cadence, now)
    db.session.add(enrollment)
    db.session.flush()
    return enrollment


def _new_enrollment(lead: Lead, cadence: Cadence, now: datetime | None) -> CadenceEnrollment:
    started = now or lead.created_at or utcnow()
    contact = lead.contact
    first = _first_applicable(cadence.steps, contact)
    enrollment = CadenceEnrollment(lead_id=lead.id, cadence_id=cadence.id, started_at=started,
                                   state=EnrollmentState.ACTIVE, step_position=first.position if first else 0)
    if first is None:
        enrollment.state, enrollment.ended_at, enrollment.ended_reason = EnrollmentState.COMPLETED, started, "no_steps"
    else:
        enrollment.next_step_at = step_due_at(first, started_at=started, not_before=started, timezone=contact.timezone)
    return enrollment


def enroll_new_leads(leads: list[Lead], *, now: datetime | None = None) -> list[CadenceEnrollment]:
    """``enroll`` for leads made in this transaction (so none is enrolled yet): the default cadence is read
    once, and the enrolments are inserted together."""
    made, default = [], ...
    for lead in leads:
        if lead.status != LeadStatus.OPEN:
            continue
        if lead.campaign is not None and lead.campaign.cadence_id:
            cadence = cadence_for(lead)
        else:
            if default is ...:
                default = default_cadence()
            cadence = default
        if cadence is not None and cadence.steps:
            made.append(_new_enrollment(lead, cadence, now))
    if made:
        db.session.add_all(made)
        db.session.flush()
    return made


def enroll_many(leads: list[tuple[int, int, int | None]], *, now: datetime) -> int:
    """Enrol many new leads at once (an import): (lead_id, contact_id, campaign_id) each; a few queries
    and one bulk insert however many. Same rules as ``enroll``; how many were enrolled."""
    if not leads:
        return 0
    default = default_cadence()
    campaign_ids = {campaign for _lead, _contact, campaign in leads if campaign}
    own = dict(db.session.execute(select(Campaign.id, Campaign.cadence_id).where(
        Campaign.id.in_(campaign_ids), Campaign.cadence_id.is_not(None))).all()) if campaign_ids else {}
    cadences = {c.id: c for c in db.session.scalars(
        select(Cadence).where(Cadence.id.in_(set(own.values())), Cadence.active.is_(True))
        .options(selectinload(Cadence.steps)))} if own else {}
    contact_ids = {contact for _lead, contact, _campaign in leads}
    contacts = {row.id: row for row in db.session.execute(
        select(Contact.id, Contact.timezone, Contact.do_not_call).where(Contact.id.in_(contact_ids)))}
    rows = []
    for lead_id, contact_id, campaign_id in leads:
        cadence = cadences.get(own.get(campaign_id)) or default
        contact = contacts[contact_id]
        first = _first_applicable(cadence.steps, contact) if cadence is not None else None
        if first is None:
            continue
        rows.append({"lead_id": lead_id, "cadence_id": cadence.id, "step_position": first.position,
                     "next_step_at": step_due_at(first, started_at=now, not_before=now, timezone=contact.timezone),
                     "state": EnrollmentState.ACTIVE, "started_at": now, "ended_at": None, "ended_reason": "",
                     "created_at": now, "updated_at": now})
    bulk_insert(db.session, CadenceEnrollment.__table__, rows)
    return len(rows)


def _first_applicable(steps: list[CadenceStep], contact, after: int | None = None) -> CadenceStep | None:
    """The next step after position ``after``; call steps are left out for do-not-call contacts (``contact``
    is a Contact or a row with ``do_not_call``)."""
    for step in sorted(steps, key=lambda s: s.position):
        if after is not None and step.position <= after:
            continue
        if step.channel == Channel.CALL and contact.do_not_call:
            continue
        return step
    return None


# ---------------------------------------------------------------- ending

def stop_cadence(lead: Lead, reason: str) -> CadenceEnrollment | None:
    """End the lead's active cadence (connected call, reply, hand-off …); no-op without one."""
    stopped = stop_cadences({lead.id: reason})
    return stopped[0] if stopped else None


def on_handoff(lead: Lead) -> CadenceEnrollment | None:
    """A hand-off to field sales ends the inside cadence (the job also catches hand-offs made elsewhere)."""
    return stop_cadence(lead, "handoff")


def stop_finished_leads(now: datetime) -> int:
    """End active cadences of leads that were won, lost or handed off; how many."""
    handed = exists().where(Handoff.lead_id == CadenceEnrollment.lead_id, Handoff.status.in_(LIVE_HANDOFF_STATUSES))
    not_open = exists().where(Lead.id == CadenceEnrollment.lead_id, Lead.status != LeadStatus.OPEN)
    stopped = 0
    for reason, condition in (("handoff", handed), ("closed", not_open)):
        result = db.session.execute(
            update(CadenceEnrollment).where(CadenceEnrollment.state == EnrollmentState.ACTIVE, condition)
            .values(state=EnrollmentState.STOPPED, ended_at=now, ended_reason=reason, next_step_at=None)
            .execution_options(synchronize_session="fetch"))
        stopped += result.rowcount or 0
    return stopped


# ---------------------------------------------------------------- touches

def on_touch(touch: Touch, *, now: datetime | None = None) -> CadenceEnrollment | None:
    """Drive the lead's cadence from a newly logged touch: reached ends it, an unanswered call advances it."""
    if touch.lead_id is None and touch.lead is None:
        return None
    reached = touch.outcome in REACHED_OUTCOMES
    unanswered_call = (touch.channel == Channel.CALL and touch.direction == Direction.OUTBOUND
                       and touch.outcome in UNANSWERED_CALL_OUTCOMES)
    if not reached and not unanswered_call:
        return None
    lead = touch.lead or db.session.get(Lead, touch.lead_id)
    if reached:
        return stop_cadence(lead, STOP_REASONS.get(touch.outcome, "reached"))
    enrollment = _active_enrollment(lead.id)
    if enrollment is None:
        return None
    step = current_step(enrollment)
    if step is None or step.channel != Channel.CALL:
        return None  # an extra call while the cadence waits on an email does not skip the email
    _move_on(enrollment, step.position, lead, done_at=touch.occurred_at or utcnow())
    run_due_step(enrollment, now or utcnow())
    return enrollment


def on_touches(touches: list[Touch]) -> None:
    """on_touch for many newly logged touches, in order; when they only reach people (or do not count),
    the cadences they end are stopped with one read and one UPDATE instead of one round each."""
    counting = [t for t in touches if (t.lead_id is not None or t.lead is not None)
                and (t.outcome in REACHED_OUTCOMES or (t.channel == Channel.CALL and t.direction == Direction.OUTBOUND
                                                       and t.outcome in UNANSWERED_CALL_OUTCOMES))]
    if len(counting) < 2 or any(t.outcome not in REACHED_OUTCOMES for t in counting):
        for touch in counting:
            on_touch(touch)
        return
    reasons: dict[int, str] = {}
    for touch in counting:
        lead_id = touch.lead.id if touch.lead is not None else touch.lead_id
        reasons.setdefault(lead_id, STOP_REASONS.get(touch.outcome, "reached"))  # the first touch's, as one by one
    stop_cadences(reasons)


def stop_cadences(reasons: dict[int, str]) -> list[CadenceEnrollment]:
    """stop_cadence for many leads (lead id → reason): one read of their enrolments, one UPDATE."""
    stopped = []
    for enrollment in db.session.scalars(select(CadenceEnrollment).where(CadenceEnrollment.lead_id.in_(reasons))):
        if enrollment.state == EnrollmentState.ACTIVE:
            enrollment.state, enrollment.ended_at = EnrollmentState.STOPPED, utcnow()
            enrollment.ended_reason, enrollment.next_step_at = reasons[enrollment.lead_id], None
            stopped.append(enrollment)
    db.session.flush()
    return stopped


def on_outcome_changed(touch: Touch, previous: Outcome | None) -> CadenceEnrollment | None:
    """A touch whose outcome a provider changed later (queued → connected): drive the cadence once per touch.

    An outcome that already moved the cadence (reached, or an unanswered call) has had its say;
    only reaching the contact afterwards still counts, and ending a cadence twice is a no-op.
    """
    if previous in REACHED_OUTCOMES or (previous in UNANSWERED_CALL_OUTCOMES and touch.outcome not in REACHED_OUTCOMES):
        return None
    return on_touch(touch)


def _active_enrollment(lead_id: int) -> CadenceEnrollment | None:
    return db.session.scalar(select(CadenceEnrollment).where(CadenceEnrollment.lead_id == lead_id,
                                                             CadenceEnrollment.state == EnrollmentState.ACTIVE))


def current_step(enrollment: CadenceEnrollment) -> CadenceStep | None:
    return next((s for s in enrollment.cadence.steps if s.position == enrollment.step_position), None)


# ---------------------------------------------------------------- moving on

def _move_on(enrollment: CadenceEnrollment, position: int, lead: Lead, *, done_at: datetime) -> bool:
    """Move from the step at ``position`` to the next applicable one (or finish); False when someone else
    moved it first."""
    contact = lead.contact
    following = _first_applicable(enrollment.cadence.steps, contact, after=position)
    if following is None:
        values = {"state": EnrollmentState.COMPLETED, "ended_at": done_at, "next_step_at": None,
                  "ended_reason": "finished"}
    else:
        due = step_due_at(following, started_at=enrollment.started_at, not_before=done_at, timezone=contact.timezone)
        values = {"step_position": following.position, "next_step_at": due}
    moved = write_columns(db.session, enrollment, values, CadenceEnrollment.step_position == position,
                          CadenceEnrollment.state == EnrollmentState.ACTIVE)
    if not moved:
        db.session.refresh(enrollment)
    if moved and following is None:
        _finish(enrollment, lead, at=done_at)
    return moved


def _finish(enrollment: CadenceEnrollment, lead: Lead, *, at: datetime) -> None:
    """The last step is done: a lead never reached moves from discover to nurture (with its StageChange)."""
    from crm.leads.service import change_stage

    if was_reached(lead.id):
        return
    enrollment.ended_reason = "finished_unreached"
    if lead.status == LeadStatus.OPEN and lead.stage == Stage.DISCOVER:
        with in_language_of(lead.owner):  # the note on the timeline is for the lead's owner
            note = _("Cadence finished; never reached")
        change_stage(lead, Stage.NURTURE, actor=None, note=note,
                     at=max(at, lead.stage_changed_at or at))
    db.session.flush()


def was_reached(lead_id: int) -> bool:
    """Did any touch on the lead connect, get a reply or hold a meeting?"""
    return db.session.scalar(select(Touch.id).where(Touch.lead_id == lead_id, Touch.outcome.in_(REACHED_OUTCOMES))
                             .limit(1)) is not None


def step_key(enrollment: CadenceEnrollment, step: CadenceStep) -> str:
    return f"cadence:{enrollment.id}:{step.position}"


@dataclass
class StepResult:
    done: str  # "email_queued", "task_created" or "skipped:<why>"


def run_due_step(enrollment: CadenceEnrollment, now: datetime) -> list[StepResult]:
    """Do every non-call step of ``enrollment`` that is due by ``now``, in order; a call step waits for a rep."""
    results: list[StepResult] = []
    for _guard in range(50):
        if enrollment.state != EnrollmentState.ACTIVE or enrollment.next_step_at is None \
                or enrollment.next_step_at > now:
            break
        step = current_step(enrollment)
        lead = enrollment.lead
        if step is None:  # the admin removed the step the lead was on: carry on from the next one
            result = StepResult("skipped:step_removed")
        elif step.channel == Channel.CALL:
            if not lead.contact.do_not_call:
                break
            result = StepResult("skipped:do_not_call")
        else:
            result = _do_step(enrollment, step, lead)
        if not _move_on(enrollment, enrollment.step_position, lead, done_at=max(now, enrollment.next_step_at or now)):
            break
        results.append(result)
    return results


def _do_step(enrollment: CadenceEnrollment, step: CadenceStep, lead: Lead) -> StepResult:
    contact = lead.contact
    if step.only_if_unreached and was_reached(lead.id):
        return StepResult("skipped:reached")
    if step.channel == Channel.EMAIL:
        return _email_step(enrollment, step, lead, contact)
    with in_language_of(lead.owner):
        title = _("Cadence step %(n)d: %(channel)s %(name)s", n=step.position + 1, channel=label(step.channel),
                  name=contact.full_name)
    created = add_once(Task(kind=TaskKind.FOLLOW_UP, title=title[:200], lead_id=lead.id, contact_id=contact.id,
                            assignee_id=lead.owner_id, due_at=enrollment.next_step_at or utcnow(), origin="cadence",
                            dedupe_key=step_key(enrollment, step)))
    return StepResult("task_created" if created else "skipped:task_exists")


def _email_step(enrollment: CadenceEnrollment, step: CadenceStep, lead: Lead, contact: Contact) -> StepResult:
    if contact.email_opt_out:
        return StepResult("skipped:opted_out")
    if not contact.email or is_suppressed(contact.email):
        return StepResult("skipped:no_address" if not contact.email else "skipped:suppressed")
    if not step.template_key:
        _alert_missing_template(enrollment, step, lead)
        return StepResult("skipped:template_missing")
    try:
        queue_email(idempotency_key=step_key(enrollment, step), contact=contact, lead=lead, user=lead.owner,
                    template_key=step.template_key)
    except EmailBlocked as exc:
        log.info("cadence email for lead %s blocked: %s", lead.id, exc.message)
        return StepResult("skipped:blocked")
    except NotFound as exc:
        if exc.code != "template_missing":
            raise
        _alert_missing_template(enrollment, step, lead)
        return StepResult("skipped:template_missing")
    return StepResult("email_queued")


def _alert_missing_template(enrollment: CadenceEnrollment, step: CadenceStep, lead: Lead) -> None:
    log.warning("cadence %s step %s: template %r is missing; lead %s skips it", enrollment.cadence_id,
                step.position, step.template_key, lead.id)
    record(None, MISSING_TEMPLATE_ACTION, enrollment.cadence,
           {"step_position": step.position, "template_key": step.template_key or "", "lead_id": lead.id})


def run_due_steps(now: datetime) -> int:
    """The cadence job: end finished leads' cadences, then do every due non-call step; how many changes."""
    changed = stop_finished_leads(now)
    # Enrollments whose due step the engine does itself: not a call, or a call to a do-not-call contact.
    step = CadenceStep
    stmt = (select(CadenceEnrollment)
            .join(Lead, Lead.id == CadenceEnrollment.lead_id)
            .join(Contact, Contact.id == Lead.contact_id)
            .outerjoin(step, (step.cadence_id == CadenceEnrollment.cadence_id)
                       & (step.position == CadenceEnrollment.step_position))
            .where(CadenceEnrollment.state == EnrollmentState.ACTIVE, CadenceEnrollment.next_step_at <= now,
                   or_(step.id.is_(None), step.channel != Channel.CALL, Contact.do_not_call.is_(True)))
            .order_by(CadenceEnrollment.next_step_at, CadenceEnrollment.id).limit(BATCH)
            .options(selectinload(CadenceEnrollment.lead).selectinload(Lead.contact),
                     selectinload(CadenceEnrollment.lead).selectinload(Lead.owner),
                     selectinload(CadenceEnrollment.cadence).selectinload(Cadence.steps)))
    for enrollment in db.session.scalars(_claim(stmt)).all():
        changed += len(run_due_step(enrollment, now))
    return changed


def _claim(stmt):
    """Lock the enrollments a run works on: FOR UPDATE SKIP LOCKED OF them on PostgreSQL (a second run takes
    others); SQLite's write lock already serialises runs."""
    if is_postgresql(db.session):
        return stmt.with_for_update(skip_locked=True, of=CadenceEnrollment)
    return stmt


# ---------------------------------------------------------------- what the pages show

@dataclass(frozen=True)
class StepBadge:
    state: EnrollmentState
    cadence_name: str
    number: int  # 1-based place among the cadence's steps
    of: int
    channel: str | None
    due_at: datetime | None
    ended_reason: str


def step_badges(lead_ids: list[int]) -> dict[int, StepBadge]:
    """Where each lead stands in its cadence, in two queries however many leads."""
    if not lead_ids:
        return {}
    rows = db.session.execute(
        select(CadenceEnrollment, Cadence.name).join(Cadence, Cadence.id == CadenceEnrollment.cadence_id)
        .where(CadenceEnrollment.lead_id.in_(lead_ids))).all()
    cadence_ids = {e.cadence_id for e, _name in rows}
    steps: dict[int, list[tuple[int, Channel]]] = {}
    if cadence_ids:
        for cadence_id, position, channel in db.session.execute(
                select(CadenceStep.cadence_id, CadenceStep.position, CadenceStep.channel)
                .where(CadenceStep.cadence_id.in_(cadence_ids)).order_by(CadenceStep.position)):
            steps.setdefault(cadence_id, []).append((position, channel))
    badges = {}
    for enrollment, name in rows:
        positions = steps.get(enrollment.cadence_id, [])
        index = next((i for i, (p, _c) in enumerate(positions) if p == enrollment.step_position), None)
        badges[enrollment.lead_id] = StepBadge(
            state=enrollment.state, cadence_name=name, number=(index + 1) if index is not None else 0,
            of=len(positions), channel=positions[index][1].value if index is not None else None,
            due_at=enrollment.next_step_at, ended_reason=enrollment.ended_reason)
    return badges


# ---------------------------------------------------------------- the admin's editor

@dataclass
class StepInput:
    position: int
    day_offset: int
    window_start: time | None
    window_end: time | None
    channel: str
    template_key: str | None
    only_if_unreached: bool


def template_keys() -> set[str]:
    return set(db.session.scalars(select(EmailTemplate.key).distinct()))


def check_steps(steps: list[StepInput]) -> None:
    """Every step valid, or ValidationFailed with ``steps-<i>-<field>`` paths (as the form names them)."""
    errors: dict[str, str] = {}
    known = template_keys()
    seen: set[int] = set()
    for i, step in enumerate(steps):
        prefix = f"steps-{i}-"
        if step.position is None or step.position < 0:
            errors[prefix + "position"] = _("A position is 0 or more.")
        elif step.position in seen:
            errors[prefix + "position"] = _("Two steps cannot share a position.")
        else:
            seen.add(step.position)
        if step.day_offset is None or step.day_offset < 0:
            errors[prefix + "day_offset"] = _("The day offset cannot be negative.")
        if step.window_start is None:
            errors[prefix + "window_start"] = _("Give a start time, e.g. 09:00.")
        if step.window_end is None:
            errors[prefix + "window_end"] = _("Give an end time, e.g. 12:00.")
        elif step.window_start is not None and step.window_end <= step.window_start:
            errors[prefix + "window_end"] = _("The window must end after it starts.")
        try:
            channel = Channel(step.channel)
        except ValueError:
            errors[prefix + "channel"] = _("Unknown channel.")
            continue
        key = (step.template_key or "").strip()
        if channel == Channel.EMAIL and not key:
            errors[prefix + "template_key"] = _("An email step needs a template.")
        elif key and key not in known:
            errors[prefix + "template_key"] = _("There is no email template %(key)s.", key=key)
    if errors:
        raise ValidationFailed(_("The cadence is not valid."), fields=errors)


def save_cadence(cadence: Cadence | None, *, name: str, steps: list[StepInput], actor) -> Cadence:
    """Create or replace a cadence and its steps; enrolled leads keep their position number."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(_("A cadence needs a name."), fields={"name": _("Required.")})
    clash = db.session.scalar(select(Cadence.id).where(func.lower(Cadence.name) == name.lower()))
    if clash is not None and (cadence is None or clash != cadence.id):
        raise ValidationFailed(_("Another cadence has that name."), fields={"name": _("Already taken.")})
    check_steps(steps)
    created = cadence is None
    if created:
        cadence = Cadence(name=name, is_default=False, active=True)
        db.session.add(cadence)
    cadence.name = name
    by_position = {s.position: s for s in cadence.steps}
    wanted = {s.position for s in steps}
    for position, old in by_position.items():
        if position not in wanted:
            cadence.steps.remove(old)
    db.session.flush()
    for given in steps:
        step = by_position.get(given.position)
        if step is None:
            step = CadenceStep(position=given.position)
            cadence.steps.append(step)
        step.day_offset = given.day_offset
        step.window_start, step.window_end = given.window_start, given.window_end
        step.channel = Channel(given.channel)
        step.template_key = (given.template_key or "").strip() or None
        step.only_if_unreached = bool(given.only_if_unreached)
    db.session.flush()
    db.session.expire(cadence, ["steps"])
    record(actor, "cadence.created" if created else "cadence.updated", cadence,
           {"name": name, "steps": [s.__dict__ for s in steps]})
    return cadence


def set_default(cadence: Cadence, *, actor) -> Cadence:
    """Make ``cadence`` the one new leads without a campaign cadence get (it is activated too)."""
    db.session.execute(update(Cadence).where(Cadence.id != cadence.id).values(is_default=False)
                       .execution_options(synchronize_session="fetch"))
    cadence.is_default, cadence.active = True, True
    db.session.flush()
    record(actor, "cadence.default", cadence)
    return cadence


def set_active(cadence: Cadence, active: bool, *, actor) -> Cadence:
    """Deactivate (no new enrolments; the default one cannot be) or reactivate a cadence."""
    if not active and cadence.is_default:
        raise ValidationFailed(_("Make another cadence the default before deactivating this one."),
                               fields={"active": _("This is the default cadence.")})
    cadence.active = active
    db.session.flush()
    record(actor, "cadence.activated" if active else "cadence.deactivated", cadence)
    return cadence


def missing_templates(cadence: Cadence) -> list[CadenceStep]:
    """Steps naming a template that does not exist (or email steps naming none): the admin page warns."""
    known = template_keys()
    return [s for s in cadence.steps
            if (s.template_key and s.template_key not in known) or (s.channel == Channel.EMAIL and not s.template_key)]


def recent_template_alerts(cadence: Cadence, limit: int = 5) -> list[AuditEvent]:
    return list(db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == MISSING_TEMPLATE_ACTION, AuditEvent.entity_type == "cadences",
                                 AuditEvent.entity_id == cadence.id)
        .order_by(AuditEvent.id.desc()).limit(limit)))
