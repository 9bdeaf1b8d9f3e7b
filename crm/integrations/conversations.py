"""Chat and social messages become touches threaded per conversation.

Each message is one touch (external_id = its event id) carrying the conversation id,
platform and handle. A conversation belongs to the contact of its first message; a new
conversation is matched by the handle (ContactHandle), and an unknown handle becomes a
new contact with that handle and a new lead in discover for the integration's team.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from crm.contacts.models import Contact, ContactHandle
from crm.contacts.service import find_or_create_contact
from crm.extensions import db
from crm.integrations.models import Integration, IntegrationChannel
from crm.integrations.service import (
    WebhookReport,
    find_agent,
    lock_subjects,
    lock_team_for_new_leads,
    mark_processed,
    new_contact_lock,
    open_lead_of,
    source_key,
    store_events,
)
from crm.leads.models import Lead
from crm.leads.service import create_lead
from crm.touches.models import Channel, Direction, Outcome, Touch
from crm.touches.service import log_touch

CHANNELS = {IntegrationChannel.CHAT: Channel.CHAT, IntegrationChannel.SOCIAL: Channel.SOCIAL}


class MessageEvent(BaseModel):
    """One chat or social message, inbound (from the contact) or outbound (from an agent)."""

    model_config = ConfigDict(extra="ignore", strict=True)
    event_id: str = Field(min_length=1, max_length=200, description="The message's id, unique: a redelivery repeats it")
    type: Literal["message"] = "message"
    conversation_id: str = Field(min_length=1, max_length=200, description="Messages of one thread share it")
    direction: Direction
    platform: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$",
                          description="e.g. webchat, whatsapp, instagram, x")
    handle: str = Field(min_length=1, max_length=200, description="The contact's handle on the platform")
    name: str | None = Field(None, max_length=200, description="The contact's display name, if the platform gives it")
    text: str = Field("", max_length=20000)
    occurred_at: AwareDatetime
    agent_id: int | None = Field(None, ge=1, description="Outbound: the Touchline user id of the sender")
    agent_email: str | None = Field(None, min_length=3, max_length=254)


class MessageEventBatch(BaseModel):
    """The body of POST /webhooks/chat and /webhooks/social: 1 to 100 messages."""

    model_config = ConfigDict(extra="forbid", strict=True)
    events: list[MessageEvent] = Field(min_length=1, max_length=100)


def normalise_handle(handle: str) -> str:
    return handle.strip().lstrip("@").lower()[:200]


def receive_messages(integration: Integration, events: list[MessageEvent], now: datetime) -> WebhookReport:
    """Log each new message once, in its conversation's thread; flushes, never commits."""
    source = source_key(integration)
    lock_subjects([f"{source}:conversation:{e.conversation_id}" for e in events]
                  + [new_contact_lock(e.platform.strip().lower(), normalise_handle(e.handle)) for e in events])
    if _unknown_handles(events):
        lock_team_for_new_leads(integration)
    report = WebhookReport()
    fresh = store_events(source, events, kind_of=lambda e: f"{integration.channel.value}.message",
                         subject_of=lambda e: e.conversation_id, now=now)
    report.duplicates = len(events) - len(fresh)
    for event, _id in sorted(fresh, key=lambda pair: (pair[0].occurred_at, pair[0].event_id)):
        touch = _log_message(integration, event)
        report.applied += 1
        report.touch_ids.append(touch.id)
    mark_processed([event_id for _event, event_id in fresh], now)
    db.session.flush()
    return report


def _unknown_handles(events: list[MessageEvent]) -> bool:
    wanted = {(e.platform.strip().lower(), normalise_handle(e.handle)) for e in events}
    known = db.session.execute(select(ContactHandle.platform, ContactHandle.handle).where(
        ContactHandle.handle.in_({handle for _p, handle in wanted}))).all()
    return bool(wanted - {tuple(row) for row in known})


def _log_message(integration: Integration, event: MessageEvent) -> Touch:
    source = source_key(integration)
    platform, handle = event.platform.strip().lower(), normalise_handle(event.handle)
    contact, lead, earlier_outbound = _thread_party(integration, source, event.conversation_id, platform, handle,
                                                    event.name)
    if event.direction == Direction.INBOUND:
        outcome = Outcome.REPLIED if earlier_outbound else Outcome.RECEIVED
    else:
        outcome = Outcome.SENT
    agent = find_agent(event.agent_id, event.agent_email) if event.direction == Direction.OUTBOUND else None
    return log_touch(contact=contact, lead=lead, user=agent, channel=CHANNELS[integration.channel],
                     direction=event.direction, outcome=outcome, occurred_at=event.occurred_at, provider=source,
                     external_id=event.event_id, conversation_id=event.conversation_id, platform=platform,
                     handle=handle, body=event.text, subject=(event.text.splitlines() or [""])[0][:300]).touch


def _thread_party(integration: Integration, source: str, conversation_id: str, platform: str, handle: str,
                  name: str | None) -> tuple[Contact, Lead | None, bool]:
    """(contact, lead, whether we wrote first) for a message of this conversation."""
    thread = db.session.execute(
        select(Touch.contact_id, Touch.lead_id, Touch.direction).where(Touch.provider == source,
                                                                       Touch.conversation_id == conversation_id)
        .order_by(Touch.occurred_at, Touch.id)).all()
    if thread:
        contact = db.session.get(Contact, thread[0].contact_id)
        lead_id = next((row.lead_id for row in reversed(thread) if row.lead_id), None)
        lead = db.session.get(Lead, lead_id) if lead_id else open_lead_of(contact)
        return contact, lead, any(row.direction == Direction.OUTBOUND for row in thread)
    contact = _by_handle(platform, handle)
    if contact is None:
        lock_subjects([new_contact_lock(platform, handle)])  # one contact per new handle (taken above already)
        contact = _by_handle(platform, handle)
    if contact is not None:
        return contact, open_lead_of(contact), False
    first, _, last = (name or "").strip().partition(" ")
    contact = find_or_create_contact(first_name=(first or handle)[:120], last_name=last[:120],
                                     team_id=integration.team_id).contact
    contact.handles.append(ContactHandle(platform=platform, handle=handle))
    db.session.flush()
    lead = create_lead(contact, actor=None, source=integration.name, team_id=integration.team_id)
    return contact, lead, False


def _by_handle(platform: str, handle: str) -> Contact | None:
    return db.session.scalar(select(Contact).join(ContactHandle).where(ContactHandle.platform == platform,
                                                                       ContactHandle.handle == handle)
                             .where(Contact.erased_at.is_(None)))
