"""Logging touches: one row per interaction, never two for one provider id."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import inspect, select, tuple_
from sqlalchemy.exc import IntegrityError

from crm.auth.models import User
from crm.cadences import service as cadences
from crm.contacts.models import Contact
from crm.db import dialect_insert, utcnow, write_columns
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.leads.models import Lead
from crm.touches.models import CHANNEL_OUTCOMES, Channel, Direction, Outcome, Touch

DURATION_FIELDS = ("queue_seconds", "talk_seconds", "hold_seconds", "wrap_seconds")


@dataclass
class LoggedTouch:
    touch: Touch
    created: bool


def check_touch_fields(channel, direction, outcome) -> tuple[Channel, Direction, Outcome | None]:
    errors = {}
    try:
        channel = Channel(channel)
    except ValueError:
        errors["channel"] = f"One of {', '.join(c.value for c in Channel)}."
    try:
        direction = Direction(direction)
    except ValueError:
        errors["direction"] = "inbound or outbound."
    if outcome not in (None, ""):
        try:
            outcome = Outcome(outcome)
        except ValueError:
            errors["outcome"] = "Unknown outcome."
        else:
            if "channel" not in errors and outcome not in CHANNEL_OUTCOMES[channel]:
                allowed = ", ".join(sorted(o.value for o in CHANNEL_OUTCOMES[channel]))
                errors["outcome"] = f"A {channel.value} can be {allowed}."
    else:
        outcome = None
    if errors:
        raise ValidationFailed(_("The touch is not valid."), fields=errors)
    return channel, direction, outcome


def check_durations(values: dict) -> None:
    """Talk, hold, wrap and queue times are whole, non-negative seconds."""
    for name in DURATION_FIELDS:
        value = values.get(name)
        if value is not None and (not isinstance(value, int) or value < 0):
            raise ValidationFailed(_("Durations are whole seconds, not negative."), fields={name: _("Must be 0 or more.")})


def check_lead_of(contact: Contact, lead: Lead | None) -> None:
    if lead is not None and lead.contact_id != contact.id:
        raise ValidationFailed(_("That lead belongs to another contact."), fields={"lead_id": _("Not this contact's lead.")})


def find_by_external_id(provider: str, external_id: str) -> Touch | None:
    return db.session.scalar(select(Touch).where(Touch.provider == provider, Touch.external_id == external_id))


@functools.cache
def _insert_once(insert):
    """INSERT one touch unless its (provider, external id) is stored, returning it as a loaded Touch."""
    return insert(Touch).on_conflict_do_nothing(index_elements=["provider", "external_id"]).returning(Touch)


def log_touch(*, contact: Contact, channel, direction, outcome=None, lead: Lead | None = None,
              user: User | None = None, occurred_at: datetime | None = None, provider: str = "touchline",
              external_id: str | None = None, **details) -> LoggedTouch:
    """Record a touch; a provider id already seen returns the existing touch, unchanged."""
    channel, direction, outcome = check_touch_fields(channel, direction, outcome)
    check_durations(details)
    check_lead_of(contact, lead)
    values = {"contact_id": contact.id, "lead_id": lead.id if lead is not None else None,
              "user_id": user.id if user is not None else None, "channel": channel, "direction": direction,
              "outcome": outcome, "occurred_at": occurred_at or utcnow(), "provider": provider,
              "external_id": external_id, "campaign_id": lead.campaign_id if lead is not None else None,
              **{k: v for k, v in details.items() if v is not None}}
    # One statement: a provider id seen before inserts nothing (also when a concurrent delivery of it commits
    # first: the INSERT waits for that transaction) and is then looked up; there is no lookup before, nor a
    # savepoint to fall back to.
    touch = db.session.scalars(_insert_once(dialect_insert(db.session)), [values]).first()
    if touch is None:
        return LoggedTouch(find_by_external_id(provider, external_id), False)
    if lead is not None:
        _write_on_lead(lead, touch)
    cadences.on_touch(touch)  # a connected call or reply ends the cadence, a missed call moves it on
    return LoggedTouch(touch, True)


def _lead_changes(lead: Lead, touch: Touch) -> dict[str, datetime]:
    """What ``touch`` changes on its lead: the last touch, and the first outbound one (speed-to-lead)."""
    changes = {}
    if lead.last_touch_at is None or touch.occurred_at > lead.last_touch_at:
        changes["last_touch_at"] = touch.occurred_at
    if touch.direction == Direction.OUTBOUND and (lead.first_touch_at is None or touch.occurred_at < lead.first_touch_at):
        changes["first_touch_at"] = touch.occurred_at
    return changes


def _note_on_lead(lead: Lead, touch: Touch) -> None:
    for name, value in _lead_changes(lead, touch).items():
        setattr(lead, name, value)


def _write_on_lead(lead: Lead, touch: Touch) -> None:
    """_note_on_lead for one touch, written at once (write_columns): the unit of work's flush of the changed lead,
    which the cadence's next read would set off, was a quarter of logging a call's Python. A lead with other
    unsaved changes takes these with them, in the session's flush as before."""
    changes = _lead_changes(lead, touch)
    if not changes:
        return
    state = inspect(lead)
    if state.persistent and not state.modified:
        write_columns(db.session, lead, {**changes, "updated_at": utcnow()})
    else:
        for name, value in changes.items():
            setattr(lead, name, value)


def log_touches(entries: list[dict], *, unseen: bool = False) -> list[LoggedTouch]:
    """Many touches at once, same rules as log_touch: one lookup and one INSERT round for the lot.

    Each entry holds log_touch's keyword arguments; the answers come back in the same
    order. For senders that log a touch per message in batches (the email outbox).
    ``unseen``: the caller has just looked up these provider ids and holds locks that keep
    anyone else from logging them (the call webhook's per-call locks), so neither the lookup
    nor the savepoint that settles a concurrent delivery is needed.
    """
    keyed = [(e.get("provider", "touchline"), e["external_id"]) for e in entries if e.get("external_id")]
    found = {}
    if keyed and not unseen:
        rows = db.session.scalars(select(Touch).where(tuple_(Touch.provider, Touch.external_id).in_(keyed)))
        found = {(t.provider, t.external_id): t for t in rows}
    results: list[LoggedTouch | None] = []
    new: list[tuple[int, Touch, Lead | None]] = []
    for entry in entries:
        key = (entry.get("provider", "touchline"), entry.get("external_id"))
        if key in found:
            results.append(LoggedTouch(found[key], False))
            continue
        details = dict(entry)
        contact, lead = details.pop("contact"), details.pop("lead", None)
        channel, direction, outcome = check_touch_fields(details.pop("channel"), details.pop("direction"),
                                                         details.pop("outcome", None))
        check_durations(details)
        check_lead_of(contact, lead)
        touch = Touch(contact=contact, lead=lead, channel=channel, direction=direction, outcome=outcome,
                      occurred_at=details.pop("occurred_at", None) or utcnow(),
                      campaign_id=lead.campaign_id if lead is not None else None,
                      **{k: v for k, v in details.items() if v is not None})
        new.append((len(results), touch, lead))
        results.append(None)
    if not new:
        return results
    if unseen:
        db.session.add_all([touch for _, touch, _ in new])
        db.session.flush()
    else:
        try:
            with db.session.begin_nested():
                db.session.add_all([touch for _, touch, _ in new])
                db.session.flush()
        except IntegrityError:  # one was logged concurrently: settle them one by one
            for index, _touch, _lead in new:
                results[index] = log_touch(**entries[index])
            return results
    for index, touch, lead in new:
        results[index] = LoggedTouch(touch, True)
        if lead is not None:
            _note_on_lead(lead, touch)
    cadences.on_touches([touch for _, touch, _ in new])  # connected calls end their cadences in one round
    return results


# -- channels from other systems (issue 9): a touch that changes as a provider's events arrive --

UPDATABLE_FIELDS = frozenset({
    "outcome", "user", "occurred_at", "queued_at", "answered_at", "ended_at", *DURATION_FIELDS,
    "ani", "dnis", "recording_url", "subject", "body",
})


def update_touch(touch: Touch, **fields) -> bool:
    """Change a logged touch with log_touch's rules (outcome fits the channel, durations whole seconds).

    The update path for providers whose touch grows over several events (a call's queued,
    answered, ended). Answers whether anything changed.
    """
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise ValueError(f"update_touch cannot change {sorted(unknown)}")
    if "outcome" in fields:
        _channel, _direction, fields["outcome"] = check_touch_fields(touch.channel, touch.direction, fields["outcome"])
    check_durations(fields)
    previous_outcome = touch.outcome
    changed = False
    for name, value in fields.items():
        if getattr(touch, name) != value:
            setattr(touch, name, value)
            changed = True
    if changed and touch.lead is not None:
        _note_on_lead(touch.lead, touch)
    if touch.outcome != previous_outcome:
        cadences.on_outcome_changed(touch, previous_outcome)  # a call that became connected ends the cadence
    return changed
