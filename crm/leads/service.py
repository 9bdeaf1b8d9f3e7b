"""Leads through discover → nurture → propose → close, won or lost.

Every move writes a StageChange; a move the rules do not allow raises
StageError and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from babel.numbers import list_currencies
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm.audit.service import record
from crm.auth.models import User
from crm.contacts.models import Contact
from crm.db import utcnow
from crm.errors import StageError, ValidationFailed
from crm.extensions import db
from crm.labels import label
from crm.leads.models import STAGE_ORDER, Campaign, Lead, LeadStatus, LostReason, Source, Stage, StageChange

ISO_CURRENCIES = frozenset(list_currencies())


def check_currency(code: str | None, field: str = "currency") -> str:
    code = (code or current_app.config["DEFAULT_CURRENCY"]).strip().upper()
    if code not in ISO_CURRENCIES:
        raise ValidationFailed(_("“%(code)s” is not an ISO 4217 currency.", code=code),
                               fields={field: _("Use a code such as EUR or USD.")})
    return code


def check_value(value, field: str = "value") -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValidationFailed(_("The value must be a number."), fields={field: _("Not a number.")}) from exc
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise ValidationFailed(_("The value must be between 0 and 10^12."), fields={field: _("Out of range.")})
    return amount.quantize(Decimal("0.01"))


def get_or_create_source(name: str | None) -> Source | None:
    if not name or not name.strip():
        return None
    source = db.session.scalar(select(Source).where(func.lower(Source.name) == name.strip().lower()))
    if source is None:
        source = Source(name=name.strip())
        try:
            with db.session.begin_nested():  # two requests naming one new source at once: one row
                db.session.add(source)
                db.session.flush()
        except IntegrityError:
            source = db.session.scalar(select(Source).where(func.lower(Source.name) == name.strip().lower()))
    return source


def find_campaign(name_or_id) -> Campaign | None:
    if name_or_id in (None, ""):
        return None
    if isinstance(name_or_id, int):
        campaign = db.session.get(Campaign, name_or_id)
    else:
        campaign = db.session.scalar(select(Campaign).where(func.lower(Campaign.name) == str(name_or_id).strip().lower()))
    if campaign is None:
        raise ValidationFailed(_("No such campaign."), fields={"campaign": _("Unknown campaign.")})
    return campaign


def _write_change(lead: Lead, actor: User | None, *, from_stage, from_status, note: str = "",
                  at: datetime | None = None) -> StageChange:
    change = StageChange(lead=lead, from_stage=from_stage, to_stage=lead.stage, from_status=from_status,
                         to_status=lead.status, changed_at=at or utcnow(),
                         changed_by_id=getattr(actor, "id", None), note=note)
    db.session.add(change)
    lead.stage_changed_at = change.changed_at
    return change


AUTO = "auto"  # create_lead(owner=AUTO): round-robin in the lead's team


def create_lead(contact: Contact, *, actor: User | None, source: str | None = None, campaign=None,
                value=None, currency: str | None = None, owner: User | None | str = AUTO, team_id: int | None = None,
                title: str = "", score: int = 0, created_at: datetime | None = None) -> Lead:
    """A new open lead in discover for ``contact``.

    ``owner``: a user; None leaves it in the team's unassigned pool; AUTO (the default)
    gives it round-robin to the team's next free rep (the pool when none is free).
    """
    from crm.cadences import service as cadences
    from crm.queue.assignment import pick_owner

    campaign_obj = find_campaign(campaign) if not isinstance(campaign, Campaign) else campaign
    given_owner = owner if isinstance(owner, User) else None
    if team_id is None:
        team_id = (campaign_obj.team_id if campaign_obj and campaign_obj.team_id else None) \
            or (given_owner.team_id if given_owner else None) or (actor.team_id if actor else None)
    if owner == AUTO:
        owner = pick_owner(team_id)
    lead = Lead(
        contact=contact, title=title.strip() or contact.full_name, stage=Stage.DISCOVER, status=LeadStatus.OPEN,
        owner=owner, team_id=team_id, source=get_or_create_source(source), campaign=campaign_obj,
        value=check_value(value), currency=check_currency(currency), score=score,
    )
    if created_at is not None:
        lead.created_at = lead.updated_at = created_at
    db.session.add(lead)
    db.session.flush()
    _write_change(lead, actor, from_stage=None, from_status=None, note="created", at=created_at or lead.created_at)
    record(actor, "lead.created", lead, {"contact_id": contact.id, "owner_id": getattr(owner, "id", None)})
    cadences.enroll(lead)  # on the first step of its campaign's (or the default) cadence
    return lead


def create_leads(contacts: list[Contact], *, actor: User | None, source: str | None = None,
                 team_id: int | None = None) -> list[Lead]:
    """create_lead (owner AUTO, no campaign) for many contacts at once, in ``contacts``' order.

    One round-robin pick for all (``pick_owners``: the team row lock once), one INSERT of the
    leads, one of their stage changes and audit events, one enrolment round.
    """
    from crm.cadences import service as cadences
    from crm.queue.assignment import pick_owners

    if not contacts:
        return []
    owners = pick_owners(team_id, len(contacts))
    source_obj, currency = get_or_create_source(source), check_currency(None)
    leads = [Lead(contact=contact, title=contact.full_name, stage=Stage.DISCOVER, status=LeadStatus.OPEN, owner=owner,
                  team_id=team_id, source=source_obj, campaign=None, value=None, currency=currency, score=0)
             for contact, owner in zip(contacts, owners, strict=True)]
    db.session.add_all(leads)
    db.session.flush()
    for lead, owner in zip(leads, owners, strict=True):
        _write_change(lead, actor, from_stage=None, from_status=None, note="created", at=lead.created_at)
        record(actor, "lead.created", lead, {"contact_id": lead.contact_id, "owner_id": getattr(owner, "id", None)})
    cadences.enroll_new_leads(leads)
    return leads


def allowed_stages(lead: Lead) -> list[Stage]:
    """Stages an open lead may move to now: one step forward or back."""
    if lead.status != LeadStatus.OPEN:
        return []
    i = STAGE_ORDER.index(lead.stage)
    return [STAGE_ORDER[j] for j in (i - 1, i + 1) if 0 <= j < len(STAGE_ORDER)]


def change_stage(lead: Lead, to: Stage | str, *, actor: User | None, note: str = "",
                 at: datetime | None = None) -> StageChange:
    """Move an open lead one stage forward or back."""
    try:
        to = Stage(to)
    except ValueError as exc:
        raise StageError(_("Unknown stage “%(stage)s”.", stage=to),
                         fields={"stage": _("One of discover, nurture, propose, close.")}) from exc
    if lead.status != LeadStatus.OPEN:
        raise StageError(_("This lead is %(status)s; reopen it first.", status=label(lead.status)),
                         fields={"stage": _("Lead is not open.")})
    if to == lead.stage:
        raise StageError(_("The lead is already in %(stage)s.", stage=label(to)), fields={"stage": _("Already there.")})
    if to not in allowed_stages(lead):
        raise StageError(
            _("A lead in %(stage)s can move to %(allowed)s, not to %(to)s.", stage=label(lead.stage),
              allowed=" / ".join(label(s) for s in allowed_stages(lead)), to=label(to)),
                                 fields={"stage": _("Only one step forward or back.")})
    before = lead.stage
    lead.stage = to
    change = _write_change(lead, actor, from_stage=before, from_status=lead.status, note=note, at=at)
    record(actor, "lead.stage_changed", lead, {"from": before, "to": to})
    return change


def mark_won(lead: Lead, *, actor: User | None, value=None, note: str = "", at: datetime | None = None) -> StageChange:
    """Win a lead in propose or close; a value is required (given or already on the lead)."""
    if lead.status != LeadStatus.OPEN:
        raise StageError(_("This lead is already %(status)s.", status=label(lead.status)),
                         fields={"status": _("Lead is not open.")})
    if lead.stage not in (Stage.PROPOSE, Stage.CLOSE):
        raise StageError(_("Only a lead in propose or close can be won."), fields={"status": _("Move it to propose first.")})
    amount = check_value(value) if value not in (None, "") else lead.value
    if amount is None:
        raise StageError(_("A won lead needs its value."), fields={"value": _("Required to win a lead.")})
    lead.value = amount
    return _close(lead, LeadStatus.WON, actor, note, at)


def mark_lost(lead: Lead, *, actor: User | None, reason, note: str = "", at: datetime | None = None) -> StageChange:
    """Lose an open lead, with a reason from the admin-edited list (id or label)."""
    if lead.status != LeadStatus.OPEN:
        raise StageError(_("This lead is already %(status)s.", status=label(lead.status)),
                         fields={"status": _("Lead is not open.")})
    lost_reason = find_lost_reason(reason)
    lead.lost_reason = lost_reason
    lead.lost_note = note
    return _close(lead, LeadStatus.LOST, actor, note or lost_reason.label, at)


def find_lost_reason(reason) -> LostReason:
    if reason in (None, ""):
        raise StageError(_("Say why the lead was lost."), fields={"reason": _("A reason is required.")})
    if isinstance(reason, int) or (isinstance(reason, str) and reason.isdigit()):
        found = db.session.get(LostReason, int(reason))
    else:
        found = db.session.scalar(select(LostReason).where(func.lower(LostReason.label) == str(reason).strip().lower()))
    if found is None or not found.active:
        raise StageError(_("That is not one of the lost reasons."), fields={"reason": _("Pick a reason from the list.")})
    return found


def _close(lead: Lead, status: LeadStatus, actor, note: str, at: datetime | None) -> StageChange:
    before = lead.status
    lead.status = status
    lead.closed_at = at or utcnow()
    lead.claimed_by_id = None
    lead.claim_expires_at = None
    change = _write_change(lead, actor, from_stage=lead.stage, from_status=before, note=note, at=at)
    record(actor, f"lead.{status.value}", lead, {"value": lead.value, "reason": getattr(lead.lost_reason, "label", None)})
    return change


def reopen(lead: Lead, *, actor: User | None, note: str = "") -> StageChange:
    """A lost lead comes back into nurture."""
    if lead.status != LeadStatus.LOST:
        raise StageError(_("Only a lost lead can be reopened."), fields={"status": _("Lead is not lost.")})
    before_stage, before_status = lead.stage, lead.status
    lead.status, lead.stage = LeadStatus.OPEN, Stage.NURTURE
    lead.lost_reason_id, lead.closed_at = None, None
    change = _write_change(lead, actor, from_stage=before_stage, from_status=before_status, note=note or "reopened")
    record(actor, "lead.reopened", lead)
    return change


def add_lost_reason(label: str, *, actor: User | None) -> LostReason:
    label = (label or "").strip()
    if not label:
        raise ValidationFailed(_("A reason needs a label."), fields={"label": _("Required.")})
    if db.session.scalar(select(LostReason.id).where(func.lower(LostReason.label) == label.lower())):
        raise ValidationFailed(_("That reason is already on the list."), fields={"label": _("Already on the list.")})
    reason = LostReason(label=label[:120])
    db.session.add(reason)
    db.session.flush()
    record(actor, "lost_reason.created", reason, {"label": label})
    return reason


def set_lost_reason_active(reason: LostReason, active: bool, *, actor: User | None) -> LostReason:
    """Retire or restore a reason; retired ones stay on the leads that used them."""
    reason.active = active
    db.session.flush()
    record(actor, "lost_reason.activated" if active else "lost_reason.retired", reason)
    return reason


def update_lead(lead: Lead, *, actor: User | None, **fields) -> Lead:
    """Change a lead's details (not its stage or owner: those have their own rules)."""
    changes = {}
    if "title" in fields and fields["title"] is not None:
        title = fields["title"].strip()
        if not title:
            raise ValidationFailed(_("A lead needs a title."), fields={"title": _("Required.")})
        changes["title"] = title
    if "value" in fields:
        changes["value"] = check_value(fields["value"])
        if changes["value"] is None and lead.status == LeadStatus.WON:
            raise ValidationFailed(_("A won lead keeps its value."), fields={"value": _("Required on a won lead.")})
    if fields.get("currency") is not None:
        changes["currency"] = check_currency(fields["currency"])
    if fields.get("score") is not None:
        if not 0 <= fields["score"] <= 100:
            raise ValidationFailed(_("The score is between 0 and 100."), fields={"score": _("0 to 100.")})
        changes["score"] = fields["score"]
    if "next_action_at" in fields:
        changes["next_action_at"] = fields["next_action_at"]
    if "source" in fields:
        source = get_or_create_source(fields["source"])
        changes["source_id"] = source.id if source else None
    if "campaign" in fields:
        campaign = find_campaign(fields["campaign"])
        changes["campaign_id"] = campaign.id if campaign else None
    changes = {k: v for k, v in changes.items() if getattr(lead, k) != v}
    for name, value in changes.items():
        setattr(lead, name, value)
    db.session.flush()
    if changes:
        record(actor, "lead.updated", lead, changes)
    return lead
