"""Call events from a phone system (ACD / IVR / dialler) become one call touch per call id.

Events ``queued``, ``answered``, ``abandoned`` and ``ended`` may arrive in any order and
more than once. Each is stored once (InboundEvent); the touch is then *recomputed* from
every stored event of its call (``fold_call``), so its final state depends only on the set
of events, never on their order. A call's touch opens with its ``queued`` event (which names
the caller): events before it wait, unprocessed, and are applied when it comes.

A post is applied set-based (``apply_calls``): all its calls together, in a fixed number of
statements whatever the number of events (bench/README.md, "Call webhooks").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from flask import current_app
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from crm.auth.models import User
from crm.contacts.models import Contact
from crm.contacts.service import create_contacts, normalise_phone
from crm.db import dialect_insert
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.integrations.models import InboundEvent, Integration, ScreenPop
from crm.integrations.service import (
    WebhookReport,
    find_agents,
    lock_subjects,
    lock_team_for_new_leads,
    mark_processed,
    new_contact_lock,
    open_leads_of,
    source_key,
    store_events,
)
from crm.leads.models import Lead
from crm.leads.service import create_leads
from crm.touches.models import Channel, Direction, Outcome, Touch
from crm.touches.service import log_touches, update_touch

CallEventType = Literal["queued", "answered", "abandoned", "ended"]
Disposition = Literal["connected", "no_answer", "busy", "voicemail", "wrong_number", "abandoned"]
Seconds = Field(None, ge=0, le=86400)

# The order events are folded in: a later kind's facts win over an earlier kind's.
RANK = {"queued": 0, "answered": 1, "abandoned": 2, "ended": 3}


class CallEvent(BaseModel):
    """One event of one call, as the phone system sends it."""

    model_config = ConfigDict(extra="ignore", strict=True)
    event_id: str = Field(min_length=1, max_length=200, description="Unique per event: a redelivery repeats it")
    type: CallEventType
    call_id: str = Field(min_length=1, max_length=200, description="The phone system's id of the call")
    occurred_at: AwareDatetime = Field(description="When it happened, with a zone (RFC 3339)")
    direction: Direction = Direction.INBOUND
    ani: str | None = Field(None, min_length=1, max_length=32, description="Caller's number; required on an inbound queued")
    dnis: str | None = Field(None, min_length=1, max_length=32, description="Dialled number; required on an outbound queued")
    agent_id: int | None = Field(None, ge=1, description="The Touchline user id of the agent")
    agent_email: str | None = Field(None, min_length=3, max_length=254, description="Or the agent's Touchline email")
    queue_seconds: int | None = Seconds
    talk_seconds: int | None = Seconds
    hold_seconds: int | None = Seconds
    wrap_seconds: int | None = Seconds
    recording_url: str | None = Field(None, max_length=500, pattern=r"^https?://\S+$")
    disposition: Disposition | None = None


class CallEventBatch(BaseModel):
    """The body of POST /webhooks/calls: 1 to 100 events."""

    model_config = ConfigDict(extra="forbid", strict=True)
    events: list[CallEvent] = Field(min_length=1, max_length=100)


@dataclass
class CallState:
    """What the stored events of one call say, folded in RANK order."""

    direction: Direction
    caller_number: str  # the contact's side: ANI inbound, DNIS outbound (from the queued event)
    fields: dict
    agent_id: int | None
    agent_email: str | None
    ended: bool


def _seconds_between(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, int((end - start).total_seconds()))


def fold_call(events: list[CallEvent]) -> CallState | None:
    """The touch's fields from a set of events (None without a queued event); order-free by construction."""
    ordered = sorted(events, key=lambda e: (RANK[e.type], e.occurred_at, e.event_id))
    by_type: dict[str, CallEvent] = {}
    for event in ordered:
        by_type.setdefault(event.type, event)  # the first of each kind (duplicated kinds: earliest wins)
    queued = by_type.get("queued")
    if queued is None:
        return None
    latest: dict = {}
    for event in ordered:
        for name in ("ani", "dnis", "agent_id", "agent_email", "queue_seconds", "talk_seconds", "hold_seconds",
                     "wrap_seconds", "recording_url", "disposition"):
            value = getattr(event, name)
            if value is not None:
                latest[name] = value
    answered, abandoned, ended = by_type.get("answered"), by_type.get("abandoned"), by_type.get("ended")
    queued_at = queued.occurred_at
    answered_at = answered.occurred_at if answered else None
    ended_at = ended.occurred_at if ended else (abandoned.occurred_at if abandoned else None)
    if latest.get("disposition"):
        outcome = Outcome(latest["disposition"])
    elif abandoned is not None:
        outcome = Outcome.ABANDONED
    elif answered is not None:
        outcome = Outcome.CONNECTED
    elif ended is not None:
        outcome = Outcome.ABANDONED if queued.direction == Direction.INBOUND else Outcome.NO_ANSWER
    else:
        outcome = Outcome.QUEUED
    queue_seconds = latest.get("queue_seconds")
    if queue_seconds is None:
        queue_seconds = _seconds_between(queued_at, answered_at or ended_at) or 0
    talk_seconds = latest.get("talk_seconds")
    if talk_seconds is None:
        talk_seconds = max(0, (_seconds_between(answered_at, ended_at) or 0) - (latest.get("hold_seconds") or 0))
    fields = {
        "outcome": outcome, "occurred_at": queued_at, "queued_at": queued_at, "answered_at": answered_at,
        "ended_at": ended_at, "queue_seconds": queue_seconds, "talk_seconds": talk_seconds,
        "hold_seconds": latest.get("hold_seconds", 0), "wrap_seconds": latest.get("wrap_seconds", 0),
        "ani": latest.get("ani"), "dnis": latest.get("dnis"), "recording_url": latest.get("recording_url"),
    }
    number = queued.ani if queued.direction == Direction.INBOUND else queued.dnis
    return CallState(direction=queued.direction, caller_number=number or "", fields=fields,
                     agent_id=latest.get("agent_id"), agent_email=latest.get("agent_email"),
                     ended=ended is not None or abandoned is not None)


def check_events(events: list[CallEvent]) -> list[str]:
    """The E.164 numbers the batch's queued events name; a missing or invalid one refuses the batch."""
    errors, numbers = {}, []
    for index, event in enumerate(events):
        if event.type != "queued":
            continue
        name = "ani" if event.direction == Direction.INBOUND else "dnis"
        raw = getattr(event, name)
        if not raw:
            errors[f"events.{index}.{name}"] = f"A {event.direction.value} call's queued event needs {name}."
            continue
        try:
            numbers.append(normalise_phone(raw, field=name))
        except ValidationFailed as exc:
            errors[f"events.{index}.{name}"] = exc.fields[name]
    if errors:
        raise ValidationFailed("Some call events are wrong.", fields=errors)
    return numbers


def receive_calls(integration: Integration, events: list[CallEvent], now: datetime) -> WebhookReport:
    """Store each new event once and bring every call it touches up to date; flushes, never commits.

    Set-based, so a batch costs about as many statements as one event: the locks, one INSERT
    for the events, one read of the calls' stored events, one each for the agents, the
    touches, the callers and their open leads, one INSERT of the new touches, the touch
    UPDATEs (one executemany), one UPDATE marking events processed, one INSERT of screen pops.
    """
    numbers = check_events(events)
    source = source_key(integration)
    # Every lock this post may need, in one sorted round: the calls, and the numbers a new
    # contact may be made for (only a queued event opens a touch, so only these).
    lock_subjects([f"{source}:call:{e.call_id}" for e in events] + [new_contact_lock("phone", n) for n in numbers])
    report = WebhookReport()
    fresh = store_events(source, events, kind_of=lambda e: f"call.{e.type}", subject_of=lambda e: e.call_id, now=now)
    report.duplicates = len(events) - len(fresh)
    if fresh:
        apply_calls(integration, list(dict.fromkeys(event.call_id for event, _id in fresh)), now, report,
                    known={event_id: event for event, event_id in fresh})
    return report


@dataclass
class _Call:
    call_id: str
    state: CallState
    unprocessed: list[int]
    agent: User | None = None
    touch: Touch | None = None
    answered_by: int | None = None  # who had answered it before these events


def apply_calls(integration: Integration, call_ids: list[str], now: datetime, report: WebhookReport,
                known: dict[int, CallEvent] | None = None) -> None:
    """Recompute the touches of these calls from all their stored events (the caller holds their locks).

    Calls without a stored ``queued`` event wait (their events stay unprocessed). ``known``:
    events already parsed, by InboundEvent id, so fresh events are not validated twice.
    """
    source, known = source_key(integration), known or {}
    stored: dict[str, list] = {call_id: [] for call_id in call_ids}
    for row in db.session.execute(select(InboundEvent.id, InboundEvent.subject_key, InboundEvent.payload,
                                         InboundEvent.processed_at).where(
            InboundEvent.source == source, InboundEvent.subject_key.in_(call_ids), InboundEvent.kind.like("call.%"))):
        stored[row.subject_key].append(row)
    ready: list[_Call] = []
    for call_id, rows in stored.items():
        unprocessed = [row.id for row in rows if row.processed_at is None]
        state = fold_call([known[row.id] if row.id in known else CallEvent.model_validate(row.payload, strict=False)
                           for row in rows])
        if state is None:
            report.pending += len(unprocessed)
        else:
            report.applied += len(unprocessed)
            ready.append(_Call(call_id, state, unprocessed))
    if not ready:
        return
    agents = find_agents([(c.state.agent_id, c.state.agent_email) for c in ready])
    touches = {t.external_id: t for t in db.session.scalars(
        select(Touch).where(Touch.provider == source, Touch.external_id.in_([c.call_id for c in ready]))
        .options(joinedload(Touch.lead)))}
    opening: list[_Call] = []
    for call in ready:
        call.agent = agents.get((call.state.agent_id, call.state.agent_email))
        call.touch = touches.get(call.call_id)
        if call.touch is None:
            opening.append(call)
        else:
            call.answered_by = call.touch.user_id if call.touch.answered_at is not None else None
            update_touch(call.touch, user=call.agent, **call.state.fields)
    mark_processed([event_id for call in ready for event_id in call.unprocessed], now)
    if opening:
        _open_touches(integration, opening)
    _pop([(call.agent.id, call.touch.id) for call in ready if call.agent is not None
          and call.touch.answered_at is not None and not call.state.ended and call.answered_by != call.agent.id], now)
    db.session.flush()
    report.touch_ids.extend(call.touch.id for call in ready)


def _open_touches(integration: Integration, opening: list[_Call]) -> None:
    """Log the first touch of each call: known callers first, then strangers, each a new lead.

    The team row lock that round-robin needs is taken only when a new lead is really made, and
    as late as possible (it is held until commit and serialises the team's new leads). Nothing
    touched after it is locked by a post not holding it (only new rows; see lock_team_for_new_leads).
    """
    source = source_key(integration)
    phones = {call.call_id: normalise_phone(call.state.caller_number) for call in opening}
    contacts = contacts_by_phone(set(phones.values()))
    leads = open_leads_of(list(contacts.values()))
    known = [call for call in opening if phones[call.call_id] in contacts]
    strangers = [call for call in opening if phones[call.call_id] not in contacts]

    def entry(call: _Call, contact: Contact, lead: Lead | None) -> dict:
        return {"contact": contact, "lead": lead, "user": call.agent, "channel": Channel.CALL,
                "direction": call.state.direction, "provider": source, "external_id": call.call_id,
                **call.state.fields}

    logged = log_touches([entry(call, contacts[phones[call.call_id]], leads.get(contacts[phones[call.call_id]].id))
                          for call in known], unseen=True) if known else []
    if strangers:
        db.session.flush()  # every row lock of the known callers' work (their leads too) is taken before the team's
        lock_team_for_new_leads(integration)
        new_numbers = list(dict.fromkeys(phones[call.call_id] for call in strangers))
        region = current_app.config["DEFAULT_PHONE_REGION"]
        made = create_contacts([{"first_name": "Caller", "last_name": phone, "phone": phone, "region": region}
                                for phone in new_numbers], team_id=integration.team_id)
        for contact, lead in zip(made, create_leads(made, actor=None, source=integration.name,
                                                    team_id=integration.team_id), strict=True):
            contacts[contact.phone], leads[contact.id] = contact, lead
        logged += log_touches([entry(call, contacts[phones[call.call_id]], leads[contacts[phones[call.call_id]].id])
                               for call in strangers], unseen=True)
    for call, touch in zip(known + strangers, logged, strict=True):
        call.touch = touch.touch


def contacts_by_phone(phones: set[str]) -> dict[str, Contact]:
    """The live contact of each E.164 number (the oldest, as find_existing picks it)."""
    found: dict[str, Contact] = {}
    if phones:
        # Each number as a one-value range: only the phone btree serves ranges. ``phone IN (…)`` is
        # also answered by the search trigram index (GIN), which PostgreSQL often prefers and which
        # is far slower for exact numbers (~1 ms each, worse with its pending list of new rows).
        matches = or_(*(Contact.phone.between(phone, phone) for phone in sorted(phones)))
        for contact in db.session.scalars(select(Contact).where(
                matches, Contact.merged_into_id.is_(None), Contact.erased_at.is_(None)).order_by(Contact.id)):
            found.setdefault(contact.phone, contact)
    return found


def _pop(pairs: list[tuple[int, int]], now: datetime) -> None:
    """A screen pop for each (agent, touch) whose touch has none yet: one INSERT … ON CONFLICT DO NOTHING."""
    if not pairs:
        return
    insert = dialect_insert(db.session)(ScreenPop.__table__).on_conflict_do_nothing(index_elements=["touch_id"])
    db.session.execute(insert, [{"user_id": user_id, "touch_id": touch_id, "created_at": now} for user_id, touch_id in pairs])


# -- the inbound figures of the reports, from call touches -----------------------------------------


@dataclass
class InboundFigures:
    offered: int
    answered: int
    abandoned: int
    average_speed_of_answer: float | None  # seconds from queued to answered, over answered calls
    service_level: float | None  # share of offered calls answered within the threshold


def inbound_figures(since: datetime, until: datetime, *, threshold_seconds: int = 20,
                    provider: str | None = None) -> InboundFigures:
    """Offered / answered / abandoned / ASA / service level of inbound calls queued in [since, until)."""
    stmt = select(Touch.outcome, Touch.queued_at, Touch.answered_at).where(
        Touch.channel == Channel.CALL, Touch.direction == Direction.INBOUND, Touch.queued_at >= since,
        Touch.queued_at < until)
    if provider:
        stmt = stmt.where(Touch.provider == provider)
    rows = db.session.execute(stmt).all()
    waits = [_seconds_between(q, a) for _o, q, a in rows if a is not None]
    return InboundFigures(
        offered=len(rows), answered=len(waits),
        abandoned=sum(1 for outcome, _q, a in rows if outcome == Outcome.ABANDONED and a is None),
        average_speed_of_answer=sum(waits) / len(waits) if waits else None,
        service_level=sum(1 for w in waits if w <= threshold_seconds) / len(rows) if rows else None,
    )
