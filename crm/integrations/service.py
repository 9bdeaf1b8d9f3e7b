"""Integrations: creating, deactivating and rotating their secrets; what every webhook shares.

A webhook post is handled in one transaction: the events are stored in InboundEvent
(unique per integration and event id, so a redelivery is a no-op), then applied.
Events about one subject (a call id, a conversation id) are serialised with a
transaction-scoped lock, so two workers never apply the same call at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, text, update

from crm.audit.service import record
from crm.auth.models import Team, User
from crm.contacts.models import Contact
from crm.db import dialect_insert, is_postgresql, utcnow
from crm.errors import Conflict, ValidationFailed
from crm.extensions import db
from crm.integrations import signing
from crm.integrations.models import InboundEvent, Integration, IntegrationChannel
from crm.leads.models import Lead, LeadStatus

MAX_OVERLAP_HOURS = 24 * 14


def source_key(integration: Integration) -> str:
    """InboundEvent.source and Touch.provider of everything this integration sends."""
    return f"integration:{integration.id}"


@dataclass
class CreatedIntegration:
    integration: Integration
    secret: str  # shown to the admin once; afterwards only the sender knows it


def create_integration(*, name: str, channel, team_id: int | None, actor: User | None) -> CreatedIntegration:
    """A new active integration with a freshly generated secret."""
    name = (name or "").strip()
    errors = {}
    if not name:
        errors["name"] = "A name is required."
    elif len(name) > 120:
        errors["name"] = "At most 120 characters."
    try:
        channel = IntegrationChannel(channel)
    except ValueError:
        errors["channel"] = "One of calls, chat, social."
    if team_id is not None and db.session.get(Team, team_id) is None:
        errors["team_id"] = "No such team."
    if errors:
        raise ValidationFailed("The integration is not valid.", fields=errors)
    if db.session.scalar(select(Integration.id).where(func.lower(Integration.name) == name.lower())):
        raise Conflict("An integration of that name exists.", fields={"name": "Already taken."})
    secret = signing.new_secret()
    integration = Integration(name=name, channel=channel, team_id=team_id, secret=secret, active=True)
    db.session.add(integration)
    db.session.flush()
    record(actor, "integration.created", integration, {"name": name, "channel": channel, "team_id": team_id})
    return CreatedIntegration(integration, secret)


def set_active(integration: Integration, active: bool, *, actor: User | None) -> Integration:
    """Deactivate (every post then answers 401) or reactivate an integration."""
    if integration.active != active:
        integration.active = active
        record(actor, "integration.activated" if active else "integration.deactivated", integration, {"active": active})
        db.session.flush()
    return integration


def rotate_secret(integration: Integration, *, overlap_hours: int, actor: User | None,
                  now: datetime | None = None) -> str:
    """A new secret; the old one still verifies for ``overlap_hours`` (0: at once invalid)."""
    if not isinstance(overlap_hours, int) or not 0 <= overlap_hours <= MAX_OVERLAP_HOURS:
        raise ValidationFailed("The overlap is 0 to 336 hours.", fields={"overlap_hours": "0 to 336 hours."})
    now = now or utcnow()
    new = signing.new_secret()
    integration.previous_secret = integration.secret if overlap_hours else None
    integration.previous_secret_expires_at = now + timedelta(hours=overlap_hours) if overlap_hours else None
    integration.secret = new
    record(actor, "integration.secret_rotated", integration,
           {"previous_valid_until": integration.previous_secret_expires_at})
    db.session.flush()
    return new


def find_for_post(raw_id: str | None, channel: IntegrationChannel) -> Integration | None:
    """The active integration a post names (X-Touchline-Integration), if it is one of this channel."""
    if not raw_id or not raw_id.strip().isdigit() or len(raw_id.strip()) > 12:
        return None
    integration = db.session.get(Integration, int(raw_id.strip()))
    if integration is None or not integration.active or integration.channel != channel:
        return None
    return integration


# -- what the call and conversation handlers share ---------------------------------------------------


@dataclass
class WebhookReport:
    applied: int = 0  # events that changed a touch now
    duplicates: int = 0  # events seen before (redeliveries): nothing changed
    pending: int = 0  # kept, to be applied when their call's queued event arrives
    touch_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"applied": self.applied, "duplicates": self.duplicates, "pending": self.pending,
                "touch_ids": sorted(set(self.touch_ids))}


def new_contact_lock(kind: str, value: str) -> str:
    """The lock key for making a contact from a number or handle: two posts never make two people."""
    return f"new-contact:{kind}:{value}"


def lock_subjects(keys: list[str]) -> None:
    """Serialise work on these subjects until the transaction ends.

    PostgreSQL: transaction-scoped advisory locks, taken in sorted order so two posts
    cannot deadlock. SQLite: every transaction begins IMMEDIATE (crm/db.py) and so
    already holds the database's single write lock.
    """
    if not is_postgresql(db.session):
        return
    # One statement for all of them; the sorted subquery feeds the aggregate in order.
    db.session.execute(text("SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) "
                            "FROM (SELECT DISTINCT unnest(CAST(:keys AS text[])) AS k ORDER BY 1) AS sorted"),
                       {"keys": sorted(set(keys))})


def lock_team_for_new_leads(integration: Integration) -> None:
    """Take the team row lock that create_lead's round-robin takes, before anything references the team.

    A new contact's INSERT holds a key-share lock on its team row; two posts each holding one
    and then asking round-robin for the team's FOR UPDATE lock would deadlock. Taking the
    FOR UPDATE first makes them queue instead. (SQLite: its write lock already serialises.)
    The lock is held until commit and serialises the team's new leads: the call webhook takes
    it only when it really makes a lead, after its other row locks (the known callers' leads),
    so that the holder never waits for a row another post holds while queueing for this one.
    """
    if integration.team_id is not None:
        db.session.execute(select(Team.id).where(Team.id == integration.team_id).with_for_update())


def store_events(source: str, events: list, *, kind_of, subject_of, now: datetime) -> list[tuple[object, int]]:
    """Store the events not seen before; the answer pairs each new event with its InboundEvent id.

    One INSERT … ON CONFLICT DO NOTHING RETURNING (PostgreSQL and SQLite ≥ 3.35 alike): a
    redelivery, even one racing the original, is simply not returned.
    """
    unique = {}
    for event in events:
        unique.setdefault(event.event_id, event)
    rows = [{"source": source, "event_id": event.event_id, "kind": kind_of(event), "subject_key": subject_of(event),
             "payload": event.model_dump(mode="json", exclude_none=True), "received_at": now}
            for event in unique.values()]
    table = InboundEvent.__table__
    # One statement, compiled once: the rows go as executemany parameters, which SQLAlchemy's
    # "insertmanyvalues" sends as a single multi-row INSERT (a .values(rows) would be compiled
    # anew for every post, a few ms of CPU each).
    stmt = (dialect_insert(db.session)(table).on_conflict_do_nothing(index_elements=["source", "event_id"])
            .returning(table.c.event_id, table.c.id))
    inserted = dict(db.session.execute(stmt, rows).all())
    return [(event, inserted[event_id]) for event_id, event in unique.items() if event_id in inserted]


def mark_processed(event_ids: list[int], now: datetime) -> None:
    if event_ids:
        db.session.execute(update(InboundEvent).where(InboundEvent.id.in_(event_ids)).values(processed_at=now))


def open_lead_of(contact: Contact) -> Lead | None:
    """The contact's newest open lead: where a call or message from them belongs."""
    return open_leads_of([contact]).get(contact.id)


def find_agent(agent_id: int | None, agent_email: str | None) -> User | None:
    """The Touchline user an event names as its agent (by user id, else by email), if active."""
    return find_agents([(agent_id, agent_email)])[(agent_id, agent_email)]


def open_leads_of(contacts: list[Contact]) -> dict[int, Lead]:
    """open_lead_of for many contacts in one query: contact id → their newest open lead."""
    found: dict[int, Lead] = {}
    if contacts:
        for lead in db.session.scalars(select(Lead).where(Lead.contact_id.in_({c.id for c in contacts}),
                                                          Lead.status == LeadStatus.OPEN)
                                       .order_by(Lead.created_at.desc(), Lead.id.desc())):
            found.setdefault(lead.contact_id, lead)
    return found


def find_agents(wanted: list[tuple[int | None, str | None]]) -> dict[tuple[int | None, str | None], User | None]:
    """find_agent for many (agent_id, agent_email) pairs in one query; each pair → its active user or None."""
    ids = {agent_id for agent_id, _email in wanted if agent_id is not None}
    emails = {email.strip().lower() for _id, email in wanted if email}
    by_id: dict[int, User] = {}
    by_email: dict[str, User] = {}
    if ids or emails:
        for user in db.session.scalars(select(User).where(or_(User.id.in_(ids), func.lower(User.email).in_(emails)))):
            by_id[user.id] = user
            by_email.setdefault(user.email.lower(), user)
    found = {}
    for agent_id, email in wanted:
        user = by_id.get(agent_id) if agent_id is not None else None
        if user is None and email:
            user = by_email.get(email.strip().lower())
        found[(agent_id, email)] = user if user is not None and user.active else None
    return found
