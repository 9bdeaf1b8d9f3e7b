"""Hand-offs: an inside rep qualifies a lead and hands it to a field rep, who accepts it or sends it back.

Life of a hand-off (``Handoff.status``):
  awaiting_approval → pending     a manager approved a lead meeting fewer criteria than the team asks
  awaiting_approval → cancelled   a manager refused it, with a reason (it never reached the field rep)
  pending → accepted              the field rep is the lead's field owner; the lead is in propose
  pending → rejected              sent back with a reason; the lead is in nurture with its inside rep

``submitted_at`` is when it reached the field rep, ``decided_at`` when the field rep (or a refusing
manager) decided; ``from_user`` is the inside rep who keeps the credit. Every step is audited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from crm import access
from crm.audit.service import record
from crm.auth.models import HandoffRule, Role, Team, User
from crm.cadences.service import stop_cadence
from crm.contacts.models import Contact
from crm.db import skip_locked, utcnow
from crm.email.outbox import EmailBlocked, queue_email
from crm.errors import Conflict, StageError, ValidationFailed
from crm.extensions import db
from crm.handoffs.models import OPEN_HANDOFF_STATUSES, Handoff, HandoffStatus
from crm.handoffs.working_hours import add_working_hours
from crm.i18n import in_language_of, zone_of
from crm.labels import label
from crm.leads.models import STAGE_ORDER, Lead, LeadStatus, Stage
from crm.leads.service import change_stage
from crm.tasks.dedupe import add_once
from crm.tasks.models import Task, TaskKind

log = logging.getLogger(__name__)

HANDOFF_STAGES = (Stage.DISCOVER, Stage.NURTURE)
DEFAULT_SLA_HOURS = 8
DEFAULT_MIN_CRITERIA = 3
REVIEW_TASK_WORKING_HOURS = 2  # a sent-back lead is followed up within two working hours


@dataclass(frozen=True)
class Qualification:
    """Budget, authority, need and timeline (a short answer and met / not met each), and notes."""

    budget: str = ""
    budget_met: bool = False
    authority: str = ""
    authority_met: bool = False
    need: str = ""
    need_met: bool = False
    timeline: str = ""
    timeline_met: bool = False
    notes: str = ""

    LIMITS = {"budget": 500, "authority": 500, "need": 500, "timeline": 500, "notes": 5000}

    def cleaned(self) -> dict:
        values = {}
        errors = {}
        for name, limit in self.LIMITS.items():
            text = (getattr(self, name) or "").strip()
            if len(text) > limit:
                errors[name] = _("At most %(n)d characters.", n=limit)
            values[name] = text
        for name in ("budget", "authority", "need", "timeline"):
            values[f"{name}_met"] = bool(getattr(self, f"{name}_met"))
            if values[f"{name}_met"] and not values[name]:
                errors[name] = _("Say how this criterion is met.")
        if errors:
            raise ValidationFailed(_("The qualification is not complete."), fields=errors)
        return values


# --- who gets it -------------------------------------------------------------------------------------------------

def team_of(lead: Lead, actor: User | None = None) -> Team | None:
    """The team whose rules apply: the lead's, else its owner's, else the one handing it off."""
    if lead.team is not None:
        return lead.team
    if lead.owner is not None and lead.owner.team is not None:
        return lead.owner.team
    return actor.team if actor is not None else None


def active_field_reps(team: Team | None):
    stmt = select(User).where(User.role == Role.FIELD, User.active.is_(True)).order_by(User.name, User.id)
    if team is not None:
        stmt = stmt.where(User.team_id == team.id)
    return db.session.scalars(stmt).all()


def check_target(user: User | None, team: Team | None) -> User:
    """``user`` may receive hand-offs of ``team``: an active field rep of that team."""
    if user is None:
        raise ValidationFailed(_("No such user."), fields={"to_user_id": _("Unknown user.")}, code="unknown_user")
    if user.role != Role.FIELD:
        raise ValidationFailed(_("%(name)s is not in field sales.", name=user.name),
                               fields={"to_user_id": _("Choose a field-sales rep.")}, code="not_field_sales")
    if not user.active:
        raise ValidationFailed(_("%(name)s is deactivated.", name=user.name),
                               fields={"to_user_id": _("Choose an active field-sales rep.")}, code="not_field_sales")
    if team is not None and user.team_id != team.id:
        raise ValidationFailed(_("%(name)s is not in %(team)s.", name=user.name, team=team.name),
                               fields={"to_user_id": _("Choose a field-sales rep of the lead's team.")},
                               code="not_field_sales")
    return user


def _least_recently_handed(candidates: list[User]) -> User:
    """Round-robin: the candidate whose last hand-off is oldest (never handed first), then by id."""
    last = (select(Handoff.to_user_id, func.max(Handoff.created_at).label("last"))
            .where(Handoff.to_user_id.in_([u.id for u in candidates])).group_by(Handoff.to_user_id).subquery())
    return db.session.scalars(
        select(User).outerjoin(last, last.c.to_user_id == User.id).where(User.id.in_([u.id for u in candidates]))
        .order_by(last.c.last.asc().nulls_first(), User.id).limit(1)).one()


def contact_country(contact: Contact) -> str | None:
    country = contact.country or (contact.account.country if contact.account else None)
    return country.strip().upper() if country else None


def _no_field_rep(message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={"to_user_id": message}, code="no_field_rep")


def choose_by_rule(lead: Lead, team: Team | None) -> User:
    """The field rep the team's rule picks: territory by the contact's country, or round-robin."""
    if team is None or team.handoff_rule == HandoffRule.MANUAL:
        raise _no_field_rep(_("Choose the field rep: the team has no rule that picks one."))
    # Lock the team row so two hand-offs at once never both take the same "next" rep.
    db.session.scalar(select(Team.id).where(Team.id == team.id).with_for_update())
    reps = list(active_field_reps(team))
    if team.handoff_rule == HandoffRule.TERRITORY:
        country = contact_country(lead.contact)
        if not country:
            raise _no_field_rep(_("The contact has no country, so no territory matches; choose the field rep."))
        reps = [u for u in reps if country in u.territory.upper().split()]
        if not reps:
            raise _no_field_rep(_("No active field rep covers %(country)s; choose one.", country=country))
    if not reps:
        raise _no_field_rep(_("The team has no active field-sales rep."))
    return _least_recently_handed(reps)


def meeting_in_utc(value: datetime | None, contact: Contact, now: datetime) -> datetime | None:
    """A proposed meeting time: a naive value is the contact's wall-clock time; stored in UTC."""
    if value is None:
        return None
    zone = zone_of(contact.timezone)
    if value.tzinfo is None:
        local = value.replace(tzinfo=zone)
        if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != value:
            raise ValidationFailed(_("%(time)s does not exist in %(zone)s (the clocks change then).",
                                     time=value.strftime("%Y-%m-%d %H:%M"), zone=contact.timezone),
                                   fields={"proposed_meeting_at": _("That local time does not exist.")})
        value = local
    value = value.astimezone(UTC)
    if value <= now:
        raise ValidationFailed(_("The first meeting must be in the future."),
                               fields={"proposed_meeting_at": _("This time has passed.")})
    return value


# --- handing off -----------------------------------------------------------------------------------------------

def open_handoff(lead: Lead) -> Handoff | None:
    return db.session.scalar(select(Handoff).where(Handoff.lead_id == lead.id,
                                                   Handoff.status.in_(OPEN_HANDOFF_STATUSES)))


def _refuse_second(lead: Lead) -> None:
    raise Conflict(_("This lead is already handed off; wait for that hand-off to be decided."),
                   fields={"lead": _("A hand-off is open.")}, code="handoff_open")


def check_can_be_handed_off(lead: Lead) -> None:
    """An open lead in discover or nurture, with no hand-off open; else StageError or Conflict."""
    if lead.status != LeadStatus.OPEN or lead.stage not in HANDOFF_STAGES:
        raise StageError(_("Only an open lead in discover or nurture can be handed off; this one is %(stage)s, "
                           "%(status)s.", stage=label(lead.stage), status=label(lead.status)),
                         fields={"stage": _("Wrong stage for a hand-off.")}, code="wrong_stage")
    if open_handoff(lead) is not None:
        _refuse_second(lead)


def hand_off(lead: Lead, *, actor: User, qualification: Qualification, to_user_id: int | None = None,
             meeting_at: datetime | None = None, now: datetime | None = None) -> Handoff:
    """Hand an open lead in discover or nurture to a field rep (chosen, or by the team's rule).

    Fewer criteria met than the team asks: it waits for a manager's approval (unless ``actor`` may approve).
    """
    now = now or utcnow()
    access.check_may_hand_off(actor, lead)
    check_can_be_handed_off(lead)
    values = qualification.cleaned()
    meeting = meeting_in_utc(meeting_at, lead.contact, now)
    team = team_of(lead, actor)
    target = check_target(db.session.get(User, to_user_id), team) if to_user_id is not None \
        else choose_by_rule(lead, team)
    inside_rep = lead.owner if lead.owner is not None else actor
    handoff = Handoff(lead=lead, from_user_id=inside_rep.id, to_user_id=target.id, proposed_meeting_at=meeting,
                      status=HandoffStatus.AWAITING_APPROVAL, created_at=now, updated_at=now, **values)
    try:
        with db.session.begin_nested():  # the unique index: two hand-offs at once, the second loses cleanly
            db.session.add(handoff)
            db.session.flush()
    except IntegrityError:
        if open_handoff(lead) is None:
            raise
        _refuse_second(lead)
    min_criteria = team.handoff_min_criteria if team is not None else DEFAULT_MIN_CRITERIA
    record(actor, "handoff.submitted", handoff, {
        "lead_id": lead.id, "from_user_id": inside_rep.id, "to_user_id": target.id,
        "criteria_met": handoff.criteria_met, "min_criteria": min_criteria,
        "chosen_by": "rep" if to_user_id is not None else (team.handoff_rule if team else None)})
    if handoff.criteria_met >= min_criteria:
        _submit(handoff, now)
    elif access.can_approve_handoff(actor, handoff):
        _submit(handoff, now, approver=actor)
    return handoff


def _submit(handoff: Handoff, now: datetime, approver: User | None = None) -> None:
    handoff.status = HandoffStatus.PENDING
    handoff.submitted_at = now
    if approver is not None:
        handoff.approved_by_id = approver.id
        record(approver, "handoff.approved", handoff, {"criteria_met": handoff.criteria_met})
    db.session.flush()
    notify_field_rep(handoff)


def _locked(handoff: Handoff) -> Handoff:
    """The hand-off re-read under a row lock, so two decisions at once see each other."""
    return db.session.scalars(select(Handoff).where(Handoff.id == handoff.id).with_for_update()
                              .execution_options(populate_existing=True)).one()


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed(_("Say why: a reason is required."), fields={"reason": _("A reason is required.")},
                               code="reason_required")
    if len(text) > 2000:
        raise ValidationFailed(_("The reason is too long."), fields={"reason": _("At most 2000 characters.")})
    return text


def _require_status(handoff: Handoff, status: HandoffStatus) -> None:
    if handoff.status != status:
        raise Conflict(_("This hand-off is already %(status)s.", status=status_label(handoff.status)),
                       fields={"status": handoff.status.value}, code="already_decided")


def approve(handoff: Handoff, *, actor: User, now: datetime | None = None) -> Handoff:
    """A manager lets a hand-off below the team's criteria through to the field rep."""
    now = now or utcnow()
    access.check_can_approve_handoff(actor, handoff)
    handoff = _locked(handoff)
    _require_status(handoff, HandoffStatus.AWAITING_APPROVAL)
    check_target(handoff.to_user, team_of(handoff.lead, handoff.from_user))
    _submit(handoff, now, approver=actor)
    return handoff


def refuse(handoff: Handoff, *, actor: User, reason: str, now: datetime | None = None) -> Handoff:
    """A manager refuses a hand-off awaiting approval; the inside rep gets a task to work on the reason."""
    now = now or utcnow()
    access.check_can_approve_handoff(actor, handoff)
    text = _reason(reason)
    handoff = _locked(handoff)
    _require_status(handoff, HandoffStatus.AWAITING_APPROVAL)
    handoff.status = HandoffStatus.CANCELLED
    handoff.rejection_reason = text
    handoff.decided_at = now
    db.session.flush()
    record(actor, "handoff.refused", handoff, {"reason": text})
    _review_task(handoff, actor, now, _l("Hand-off refused by %(name)s: %(reason)s", name=actor.name, reason=text),
                 "refused")
    return handoff


def _decidable(handoff: Handoff, actor: User) -> Handoff:
    access.check_can_decide_handoff(actor, handoff)
    handoff = _locked(handoff)
    _require_status(handoff, HandoffStatus.PENDING)
    if handoff.lead.status != LeadStatus.OPEN:
        raise Conflict(_("The lead is %(status)s now; this hand-off cannot be decided.",
                         status=label(handoff.lead.status)), fields={"lead": _("Lead is not open.")},
                       code="lead_closed")
    return handoff


def _walk_to(lead: Lead, target: Stage, actor: User, note: str, now: datetime) -> None:
    """Move the lead one stage at a time through the stage rules, so each step is a StageChange."""
    while lead.stage != target:
        here, there = STAGE_ORDER.index(lead.stage), STAGE_ORDER.index(target)
        change_stage(lead, STAGE_ORDER[here + (1 if there > here else -1)], actor=actor, note=note, at=now)


def accept(handoff: Handoff, *, actor: User, now: datetime | None = None) -> Handoff:
    """The field rep takes the lead: field owner, stage propose, cadence stopped; the inside rep stays owner."""
    now = now or utcnow()
    handoff = _decidable(handoff, actor)
    lead = handoff.lead
    handoff.status = HandoffStatus.ACCEPTED
    handoff.decided_at = now
    lead.field_owner_id = actor.id
    _walk_to(lead, Stage.PROPOSE, actor, _("Hand-off accepted"), now)
    stop_cadence(lead, "handoff")
    db.session.flush()
    record(actor, "handoff.accepted", handoff, {
        "lead_id": lead.id, "seconds_to_accept": int((now - (handoff.submitted_at or now)).total_seconds())})
    return handoff


def send_back(handoff: Handoff, *, actor: User, reason: str, now: datetime | None = None) -> Handoff:
    """The field rep returns the lead, with a reason: nurture, its inside rep, and a task to follow up."""
    now = now or utcnow()
    text = _reason(reason)
    handoff = _decidable(handoff, actor)
    lead = handoff.lead
    handoff.status = HandoffStatus.REJECTED
    handoff.rejection_reason = text
    handoff.decided_at = now
    inside_rep = handoff.from_user
    if inside_rep is not None and inside_rep.active and inside_rep.role == Role.REP:
        lead.owner_id = inside_rep.id
    _walk_to(lead, Stage.NURTURE, actor, _("Hand-off sent back: %(reason)s", reason=text), now)
    db.session.flush()
    record(actor, "handoff.rejected", handoff, {"lead_id": lead.id, "reason": text})
    _review_task(handoff, actor, now, _l("Sent back by %(name)s: %(reason)s", name=actor.name, reason=text), "review")
    return handoff


def _review_task(handoff: Handoff, actor: User, now: datetime, title, key: str) -> None:
    """A task for the inside rep, its ``title`` (a lazy text) in their language, not the decider's."""
    lead = handoff.lead
    team = team_of(lead, handoff.from_user)
    due = add_working_hours(now, REVIEW_TASK_WORKING_HOURS, team.timezone if team else "UTC")
    assignee = handoff.from_user if handoff.from_user_id else lead.owner
    with in_language_of(assignee):
        title = str(title)
    add_once(Task(kind=TaskKind.HANDOFF_REVIEW, title=title[:200], notes=handoff.rejection_reason,
                  lead_id=lead.id, contact_id=lead.contact_id,
                  assignee_id=assignee.id if assignee else None, created_by_id=actor.id, due_at=due,
                  origin="handoff", dedupe_key=f"handoff:{handoff.id}:{key}"))


# --- notifications -------------------------------------------------------------------------------------------

NOTIFY_BODY = """{{ h.intro }}

{% for c in h.criteria %}- {{ c.label }}: {{ c.met }}{% if c.answer %} · {{ c.answer }}{% endif %}

{% endfor %}
{% if h.meeting %}{{ h.meeting }}

{% endif %}{% if h.notes %}{{ h.notes_heading }}
{{ h.notes }}

{% endif %}{{ h.link }}
"""

SLA_BODY = """{{ h.intro }}

{{ h.link }}
"""


def status_label(status: HandoffStatus) -> str:
    return {
        HandoffStatus.AWAITING_APPROVAL: _("awaiting approval"), HandoffStatus.PENDING: _("pending"),
        HandoffStatus.ACCEPTED: _("accepted"), HandoffStatus.REJECTED: _("sent back"),
        HandoffStatus.CANCELLED: _("refused"),
    }[status]


def criteria_rows(handoff: Handoff) -> list[dict]:
    return [{"key": key, "label": label, "answer": getattr(handoff, key), "met": getattr(handoff, f"{key}_met")}
            for key, label in (("budget", _("Budget")), ("authority", _("Authority")), ("need", _("Need")),
                               ("timeline", _("Timeline")))]


def meeting_text(handoff: Handoff, viewer_zone: str | None) -> str:
    """'Tue 3 Dec 10:00 (Europe/Lisbon) · 11:00 in Europe/Berlin': the contact's zone and the viewer's."""
    if handoff.proposed_meeting_at is None:
        return ""
    contact_zone = handoff.lead.contact.timezone or "UTC"
    there = handoff.proposed_meeting_at.astimezone(zone_of(contact_zone))
    text = f"{there.strftime('%a %d %b %Y %H:%M')} ({contact_zone})"
    if viewer_zone and viewer_zone != contact_zone:
        here = handoff.proposed_meeting_at.astimezone(zone_of(viewer_zone))
        text += " · " + _("%(time)s in %(zone)s", time=here.strftime("%a %d %b %H:%M"), zone=viewer_zone)
    return text


def notify_field_rep(handoff: Handoff) -> None:
    """One email to the field rep per hand-off (idempotency key), in their language and time zone."""
    rep, lead = handoff.to_user, handoff.lead
    if rep is None:
        return
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    url = f"{base}/handoffs/{handoff.id}"
    with in_language_of(rep):
        context = {
            "intro": _("%(name)s handed you %(lead)s (%(n)d of 4 criteria met).",
                       name=handoff.from_user.name if handoff.from_user else "?", lead=lead.title, n=handoff.criteria_met),
            "criteria": [{**c, "met": _("met") if c["met"] else _("not met")} for c in criteria_rows(handoff)],
            "meeting": (_("Proposed first meeting: %(when)s", when=meeting_text(handoff, rep.timezone))
                        if handoff.proposed_meeting_at else ""),
            "notes_heading": _("Notes"), "notes": handoff.notes,
            "link": _("Accept or send back: %(url)s", url=url),
        }
        subject = _("Hand-off: %(lead)s", lead=lead.title)
    try:
        queue_email(idempotency_key=f"handoff:{handoff.id}:to:{rep.id}", to_email=rep.email, user=rep,
                    subject=subject, body=NOTIFY_BODY, extra_context={"h": context})
    except EmailBlocked as exc:  # the inbox still shows it; a blocked address must not undo the hand-off
        log.warning("hand-off %s: no email to %s: %s", handoff.id, rep.email, exc.message)


def notify_managers_overdue(handoff: Handoff, team: Team | None) -> int:
    if team is None:
        return 0
    managers = db.session.scalars(select(User).where(User.team_id == team.id, User.role == Role.MANAGER,
                                                     User.active.is_(True))).all()
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    for manager in managers:
        with in_language_of(manager):
            context = {"intro": _("%(rep)s has not accepted or sent back %(lead)s within %(hours)d working hours.",
                                  rep=handoff.to_user.name if handoff.to_user else "?", lead=handoff.lead.title,
                                  hours=team.handoff_sla_hours),
                       "link": f"{base}/handoffs/{handoff.id}"}
            subject = _("Hand-off waiting too long: %(lead)s", lead=handoff.lead.title)
        try:
            queue_email(idempotency_key=f"handoff-sla:{handoff.id}:{manager.id}", to_email=manager.email, user=manager,
                        subject=subject, body=SLA_BODY, extra_context={"h": context})
        except EmailBlocked as exc:
            log.warning("hand-off %s: no SLA email to %s: %s", handoff.id, manager.email, exc.message)
    return len(managers)


# --- the acceptance limit ------------------------------------------------------------------------------------

def sla_due_at(handoff: Handoff, team: Team | None) -> datetime | None:
    """When a pending hand-off goes over the team's limit, counted in the team's working hours."""
    if handoff.submitted_at is None:
        return None
    hours = team.handoff_sla_hours if team is not None else DEFAULT_SLA_HOURS
    return add_working_hours(handoff.submitted_at, hours, team.timezone if team is not None else "UTC")


def flag_overdue_handoffs(now: datetime) -> int:
    """Flag each pending hand-off past its team's limit, once, and email the team's managers; how many."""
    stmt = skip_locked(select(Handoff).where(Handoff.status == HandoffStatus.PENDING,
                                             Handoff.sla_flagged_at.is_(None), Handoff.submitted_at.is_not(None),
                                             Handoff.submitted_at < now)
                       .options(selectinload(Handoff.lead).selectinload(Lead.team),
                                selectinload(Handoff.from_user).selectinload(User.team),
                                selectinload(Handoff.to_user))
                       .order_by(Handoff.id), db.session)
    flagged = 0
    for handoff in db.session.scalars(stmt):
        team = team_of(handoff.lead, handoff.from_user)
        due = sla_due_at(handoff, team)
        if due is None or now < due:
            continue
        handoff.sla_flagged_at = now
        db.session.flush()
        record(None, "handoff.sla_flagged", handoff, {"due_at": due, "to_user_id": handoff.to_user_id})
        notify_managers_overdue(handoff, team)
        flagged += 1
    return flagged


# --- what pages show -----------------------------------------------------------------------------------------

TABS = {
    "pending": OPEN_HANDOFF_STATUSES,
    "accepted": (HandoffStatus.ACCEPTED,),
    "rejected": (HandoffStatus.REJECTED, HandoffStatus.CANCELLED),
    "approval": (HandoffStatus.AWAITING_APPROVAL,),
}


def handoffs_for(user: User, statuses=None):
    """Hand-offs ``user`` may see (newest first by id when paged), with what a list shows loaded."""
    stmt = select(Handoff).where(access.handoff_visibility(user)).options(
        selectinload(Handoff.lead).selectinload(Lead.contact), selectinload(Handoff.from_user),
        selectinload(Handoff.to_user), selectinload(Handoff.approved_by))
    if statuses:
        stmt = stmt.where(Handoff.status.in_(list(statuses)))
    return stmt


def dashboard_summary(user: User) -> dict | None:
    """For managers: hand-offs over the limit and those waiting for approval; None for others."""
    if not access.is_manager(user):
        return None
    overdue = db.session.scalars(
        handoffs_for(user, [HandoffStatus.PENDING]).where(Handoff.sla_flagged_at.is_not(None))
        .order_by(Handoff.submitted_at).limit(10)).all()
    counts = select(func.count()).select_from(Handoff).where(access.handoff_visibility(user))
    return {
        "overdue": overdue,
        "overdue_count": db.session.scalar(counts.where(Handoff.status == HandoffStatus.PENDING,
                                                        Handoff.sla_flagged_at.is_not(None))) or 0,
        "awaiting_count": db.session.scalar(counts.where(Handoff.status == HandoffStatus.AWAITING_APPROVAL)) or 0,
    }
