"""/api/v1/touches: log an interaction (idempotent by provider id) and list them."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from crm import access
from crm.api import current_api_user, endpoint
from crm.api.pagination import MAX_LIMIT, page
from crm.contacts.models import Contact
from crm.errors import NotFound, ValidationFailed
from crm.extensions import db
from crm.leads.models import Lead
from crm.touches.models import Channel, Direction, Outcome, Touch
from crm.touches.service import log_touch


class TouchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact_id: int | None = Field(None, ge=1, description="The contact; or give lead_id")
    lead_id: int | None = Field(None, ge=1)
    channel: Channel
    direction: Direction
    outcome: Outcome | None = None
    occurred_at: datetime | None = Field(None, description="With a zone; defaults to now")
    queued_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    queue_seconds: int | None = Field(None, ge=0, le=86400)
    talk_seconds: int | None = Field(None, ge=0, le=86400)
    hold_seconds: int | None = Field(None, ge=0, le=86400)
    wrap_seconds: int | None = Field(None, ge=0, le=86400)
    subject: str | None = Field(None, max_length=300)
    body: str | None = Field(None, max_length=20000)
    ani: str | None = Field(None, max_length=32)
    dnis: str | None = Field(None, max_length=32)
    recording_url: str | None = Field(None, max_length=500)
    provider: str = Field("api", min_length=1, max_length=40)
    external_id: str | None = Field(None, min_length=1, max_length=200)
    conversation_id: str | None = Field(None, max_length=200)
    platform: str | None = Field(None, max_length=40)
    handle: str | None = Field(None, max_length=200)


class TouchOut(BaseModel):
    id: int
    contact_id: int
    lead_id: int | None
    user_id: int | None
    channel: Channel
    direction: Direction
    outcome: Outcome | None
    occurred_at: datetime
    talk_seconds: int
    hold_seconds: int
    wrap_seconds: int
    queue_seconds: int
    subject: str
    body: str
    provider: str
    external_id: str | None


class TouchList(BaseModel):
    items: list[TouchOut]
    next_cursor: str | None


class TouchQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    contact_id: int | None = Field(None, ge=1)
    lead_id: int | None = Field(None, ge=1)
    channel: Channel | None = None
    cursor: str | None = Field(None, max_length=100)
    limit: int = Field(50, ge=1, le=MAX_LIMIT)


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValidationFailed(_("Times need a zone, e.g. 2026-11-23T10:00:00Z."), fields={field: _("Add a time zone.")})
    return value


@endpoint("/touches", "POST", summary="Log a touch; a known provider id returns the existing touch",
          tags=["touches"], body=TouchIn, response=TouchOut, status=201, responses={200: "Already recorded"})
def create_touch(body: TouchIn):
    user = current_api_user()
    lead = access.get_lead(user, body.lead_id, options=(joinedload(Lead.contact),)) if body.lead_id else None
    if body.contact_id is None and lead is None:
        raise ValidationFailed(_("Say whose touch it is."), fields={"contact_id": _("Give contact_id or lead_id.")})
    contact = access.get_contact(user, body.contact_id) if body.contact_id else lead.contact
    details = body.model_dump(exclude={"contact_id", "lead_id", "channel", "direction", "outcome", "provider",
                                       "external_id", "occurred_at"}, exclude_none=True)
    for name in ("queued_at", "answered_at", "ended_at"):
        _aware(details.get(name), name)
    logged = log_touch(contact=contact, lead=lead, user=user, channel=body.channel, direction=body.direction,
                       outcome=body.outcome, occurred_at=_aware(body.occurred_at, "occurred_at"),
                       provider=body.provider, external_id=body.external_id, **details)
    return TouchOut.model_validate(logged.touch, from_attributes=True), 201 if logged.created else 200


@endpoint("/touches", summary="List touches you may see", tags=["touches"], query=TouchQuery, response=TouchList,
          read_only=True)
def list_touches(query: TouchQuery):
    user = current_api_user()
    stmt = select(Touch).where(Touch.contact_id.in_(access.visible_contacts(user).with_only_columns(Contact.id)))
    if query.contact_id:
        stmt = stmt.where(Touch.contact_id == query.contact_id)
    if query.lead_id:
        stmt = stmt.where(Touch.lead_id == query.lead_id)
    if query.channel:
        stmt = stmt.where(Touch.channel == query.channel)
    rows, cursor = page(stmt, Touch.id, cursor=query.cursor, limit=query.limit, session=db.session)
    return TouchList(items=[TouchOut.model_validate(t, from_attributes=True) for t in rows], next_cursor=cursor)


@endpoint("/touches/<int:touch_id>", summary="One touch", tags=["touches"], response=TouchOut,
          read_only=True)
def get_touch(touch_id: int):
    user = current_api_user()
    touch = db.session.get(Touch, touch_id)
    if touch is None:
        raise NotFound(_("No such touch."))
    access.get_contact(user, touch.contact_id)
    return TouchOut.model_validate(touch, from_attributes=True)
