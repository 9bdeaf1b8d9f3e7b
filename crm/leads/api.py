"""/api/v1/leads: create, list with filters, read, change, and move through stages."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import joinedload

from crm import access
from crm.api import current_api_user, endpoint
from crm.api.pagination import MAX_LIMIT, page
from crm.auth.models import User
from crm.contacts.api import ContactIn, Ref
from crm.contacts.service import find_or_create_contact
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.leads import service
from crm.leads.filters import LeadFilters, filtered_leads
from crm.leads.models import Lead, LeadStatus, Stage


class LeadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact: ContactIn | None = None
    contact_id: int | None = Field(None, ge=1)
    title: str = Field("", max_length=200)
    source: str | None = Field(None, max_length=120)
    campaign: str | int | None = Field(None, description="Campaign name or id")
    value: Decimal | None = Field(None, ge=0, lt=Decimal("1e12"))
    currency: str | None = Field(None, min_length=3, max_length=3)
    score: int = Field(0, ge=0, le=100)
    owner_id: int | None = Field(None, description="Omit for round-robin; null for the team's unassigned pool")

    @model_validator(mode="after")
    def one_contact(self):
        if (self.contact is None) == (self.contact_id is None):
            raise ValueError(_("give either 'contact' or 'contact_id'"))
        return self


class LeadPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(None, max_length=200)
    source: str | None = Field(None, max_length=120)
    campaign: str | int | None = None
    value: Decimal | None = Field(None, ge=0, lt=Decimal("1e12"))
    currency: str | None = Field(None, min_length=3, max_length=3)
    score: int | None = Field(None, ge=0, le=100)
    next_action_at: datetime | None = None


class StageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage: Stage | None = None
    status: Literal["won", "lost", "open"] | None = Field(None, description="open reopens a lost lead")
    reason: str | int | None = Field(None, description="Lost reason, by label or id")
    value: Decimal | None = Field(None, ge=0, lt=Decimal("1e12"))
    note: str = Field("", max_length=2000)

    @model_validator(mode="after")
    def one_move(self):
        if (self.stage is None) == (self.status is None):
            raise ValueError(_("give either 'stage' or 'status'"))
        return self


class LeadOut(BaseModel):
    id: int
    title: str
    stage: Stage
    status: LeadStatus
    contact: Ref
    owner: Ref | None
    field_owner: Ref | None
    team_id: int | None
    source: str | None
    campaign: Ref | None
    value: str | None
    currency: str
    score: int
    lost_reason: str | None
    next_action_at: datetime | None
    created_at: datetime
    stage_changed_at: datetime
    contact_matched_on: str | None = Field(None, description="On create: the contact was recognised by email or phone")


class LeadList(BaseModel):
    items: list[LeadOut]
    next_cursor: str | None


class LeadQuery(LeadFilters):
    cursor: str | None = Field(None, max_length=100)
    limit: int = Field(50, ge=1, le=MAX_LIMIT)


def _ref(user) -> Ref | None:
    return Ref(id=user.id, name=user.name) if user else None


def lead_out(lead: Lead, matched_on: str | None = None) -> LeadOut:
    return LeadOut(
        id=lead.id, title=lead.title, stage=lead.stage, status=lead.status,
        contact=Ref(id=lead.contact.id, name=lead.contact.full_name), owner=_ref(lead.owner),
        field_owner=_ref(lead.field_owner), team_id=lead.team_id, source=lead.source.name if lead.source else None,
        campaign=Ref(id=lead.campaign.id, name=lead.campaign.name) if lead.campaign else None,
        value=str(lead.value) if lead.value is not None else None, currency=lead.currency, score=lead.score,
        lost_reason=lead.lost_reason.label if lead.lost_reason else None, next_action_at=lead.next_action_at,
        created_at=lead.created_at, stage_changed_at=lead.stage_changed_at, contact_matched_on=matched_on)


@endpoint("/leads", summary="List leads (filtered, newest first)", tags=["leads"], query=LeadQuery, response=LeadList,
          read_only=True)
def list_leads(query: LeadQuery):
    from sqlalchemy.orm import selectinload

    stmt = filtered_leads(current_api_user(), query).options(
        selectinload(Lead.contact), selectinload(Lead.owner), selectinload(Lead.field_owner),
        selectinload(Lead.source), selectinload(Lead.campaign), selectinload(Lead.lost_reason))
    rows, cursor = page(stmt, Lead.id, cursor=query.cursor, limit=query.limit, session=db.session)
    return LeadList(items=[lead_out(lead) for lead in rows], next_cursor=cursor)


@endpoint("/leads", "POST", summary="Create a lead in discover", tags=["leads"], body=LeadIn, response=LeadOut,
          status=201, responses={403: "The owner is not yours to assign to"})
def create_lead(body: LeadIn):
    user = current_api_user()
    owner = service.AUTO
    if "owner_id" in body.model_fields_set:
        owner = db.session.get(User, body.owner_id) if body.owner_id is not None else None
        if body.owner_id is not None and owner is None:
            raise ValidationFailed(_("No such user."), fields={"owner_id": _("Unknown user.")})
        access.check_assignable(user, owner)
    matched_on = None
    if body.contact_id is not None:
        contact = access.get_contact(user, body.contact_id)
    else:
        match = find_or_create_contact(actor=user, team_id=user.team_id, prefix="contact.",
                                       **body.contact.model_dump(exclude={"do_not_call", "email_opt_out"}))
        contact, matched_on = match.contact, match.matched_on
        if match.created:
            contact.do_not_call, contact.email_opt_out = body.contact.do_not_call, body.contact.email_opt_out
    lead = service.create_lead(contact, actor=user, source=body.source, campaign=body.campaign, value=body.value,
                               currency=body.currency, owner=owner, title=body.title, score=body.score)
    return lead_out(lead, matched_on)


@endpoint("/leads/<int:lead_id>", summary="One lead", tags=["leads"], response=LeadOut,
          read_only=True)
def get_lead(lead_id: int):
    return lead_out(access.get_lead(current_api_user(), lead_id, options=LEAD_OUT_JOINS))


# What lead_out shows, loaded with the lead in one statement (one lead: joins, not a query per relation).
LEAD_OUT_JOINS = tuple(joinedload(relation) for relation in (Lead.contact, Lead.owner, Lead.field_owner, Lead.source,
                                                            Lead.campaign, Lead.lost_reason))


@endpoint("/leads/<int:lead_id>", "PATCH", summary="Change a lead's details", tags=["leads"], body=LeadPatch,
          response=LeadOut, responses={403: "Visible but not yours to change"})
def patch_lead(lead_id: int, body: LeadPatch):
    user = current_api_user()
    lead = access.get_lead(user, lead_id, for_change=True)
    service.update_lead(lead, actor=user, **body.model_dump(exclude_unset=True))
    return lead_out(lead)


@endpoint("/leads/<int:lead_id>/stage", "POST", summary="Move a lead: a stage, won, lost or reopen", tags=["leads"],
          body=StageIn, response=LeadOut, responses={403: "Visible but not yours to change"})
def move_lead(lead_id: int, body: StageIn):
    user = current_api_user()
    lead = access.get_lead(user, lead_id, for_change=True)
    if body.stage is not None:
        service.change_stage(lead, body.stage, actor=user, note=body.note)
    elif body.status == "won":
        service.mark_won(lead, actor=user, value=body.value, note=body.note)
    elif body.status == "lost":
        service.mark_lost(lead, actor=user, reason=body.reason, note=body.note)
    else:
        service.reopen(lead, actor=user, note=body.note)
    return lead_out(lead)


