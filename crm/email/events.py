"""SendGrid Event Webhook: checking the signature, then applying events to messages and touches.

Each event is kept once in InboundEvent (source "sendgrid", its sg_event_id), so a
redelivered batch changes nothing. A message's status only moves forward
(sent → deferred → delivered → opened → clicked; bounce, drop, spam report and
unsubscribe beyond those); an event for a message still 'queued', 'sending' or
'failed' proves SendGrid accepted it, which settles an "outcome unknown" row.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from sendgrid.helpers.eventwebhook import EventWebhook
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm.db import utcnow
from crm.email.models import EmailStatus, OutboundEmail
from crm.email.sender import CUSTOM_ARG, log_sent_touch
from crm.email.service import opt_out, suppress
from crm.extensions import db
from crm.integrations.models import InboundEvent
from crm.touches.models import Outcome, Touch

log = logging.getLogger(__name__)

SOURCE = "sendgrid"

EVENT_STATUS = {
    "processed": EmailStatus.SENT, "deferred": EmailStatus.DEFERRED, "delivered": EmailStatus.DELIVERED,
    "open": EmailStatus.OPENED, "click": EmailStatus.CLICKED, "bounce": EmailStatus.BOUNCED,
    "dropped": EmailStatus.DROPPED, "spamreport": EmailStatus.SPAM, "unsubscribe": EmailStatus.UNSUBSCRIBED,
    "group_unsubscribe": EmailStatus.UNSUBSCRIBED,
}
RANK = {
    EmailStatus.SENT: 1, EmailStatus.DEFERRED: 2, EmailStatus.DELIVERED: 3, EmailStatus.OPENED: 4,
    EmailStatus.CLICKED: 5, EmailStatus.BOUNCED: 6, EmailStatus.DROPPED: 6, EmailStatus.SPAM: 7,
    EmailStatus.UNSUBSCRIBED: 7,
}
# States an event settles: SendGrid had the message after all.
UNSETTLED = frozenset({EmailStatus.QUEUED, EmailStatus.SENDING, EmailStatus.FAILED, EmailStatus.NOT_SENT})
SUPPRESSING = frozenset({"bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe"})
OPTING_OUT = frozenset({"unsubscribe", "group_unsubscribe", "spamreport"})
TOUCH_OUTCOME = {status: Outcome(status.value) for status in RANK}


class SignatureRefused(Exception):
    """The request is not provably from SendGrid; the reason is for logs, not for the caller."""


def verify_signature(body: bytes, signature: str | None, timestamp: str | None, *, now: datetime | None = None) -> str:
    """The body as text when its signature (ECDSA P-256 over timestamp + body) checks out.

    Uses the sendgrid library's EventWebhook with the key in SENDGRID_WEBHOOK_PUBLIC_KEY;
    SENDGRID_WEBHOOK_MAX_AGE > 0 also refuses timestamps older (or newer) than that many seconds.
    """
    public_key = current_app.config.get("SENDGRID_WEBHOOK_PUBLIC_KEY")
    if not public_key:
        raise SignatureRefused("SENDGRID_WEBHOOK_PUBLIC_KEY is not set; refusing unsigned events")
    if not signature or not timestamp:
        raise SignatureRefused("signature or timestamp header missing")
    try:
        payload = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SignatureRefused("body is not UTF-8") from exc
    helper = EventWebhook()
    try:
        key = helper.convert_public_key_to_ecdsa(public_key.strip())
        valid = helper.verify_signature(payload, signature.strip(), timestamp.strip(), key)
    except (ValueError, TypeError, binascii.Error) as exc:  # an unreadable key or signature
        raise SignatureRefused(f"cannot verify: {exc}") from exc
    if not valid:
        raise SignatureRefused("signature does not match")
    max_age = int(current_app.config.get("SENDGRID_WEBHOOK_MAX_AGE") or 0)
    if max_age > 0:
        try:
            signed_at = datetime.fromtimestamp(int(timestamp), UTC)
        except (ValueError, OverflowError, OSError) as exc:
            raise SignatureRefused("timestamp is not a Unix time") from exc
        if abs(((now or utcnow()) - signed_at).total_seconds()) > max_age:
            raise SignatureRefused(f"timestamp {timestamp} is outside SENDGRID_WEBHOOK_MAX_AGE={max_age}")
    return payload


class BadEvents(ValueError):
    """A signed body that is not a list of event objects."""


def parse_events(payload: str) -> list[dict]:
    try:
        events = json.loads(payload)
    except ValueError as exc:
        raise BadEvents(f"the body is not JSON: {exc}") from exc
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise BadEvents("the body must be a JSON array of event objects")
    return events


@dataclass
class EventsReport:
    applied: int = 0
    duplicates: int = 0
    unmatched: int = 0


def apply_events(events: list[dict], now: datetime | None = None) -> EventsReport:
    """Apply a verified batch; flushes, never commits."""
    report = EventsReport()
    for event in events:
        event_id = str(event.get("sg_event_id") or "") or _fallback_id(event)
        message = find_message(event)
        stored = InboundEvent(source=SOURCE, event_id=event_id[:200], kind=str(event.get("event", ""))[:60],
                              subject_key=str(message.id) if message else None, payload=event,
                              received_at=now or utcnow())
        try:
            with db.session.begin_nested():
                db.session.add(stored)
                db.session.flush()
        except IntegrityError:
            report.duplicates += 1
            continue
        if message is None:
            report.unmatched += 1
        apply_event(event, message)
        stored.processed_at = now or utcnow()
        report.applied += 1
    db.session.flush()
    return report


def apply_event(event: dict, message: OutboundEmail | None) -> None:
    kind = str(event.get("event", ""))
    address = str(event.get("email") or (message.to_email if message else "") or "")
    if kind in SUPPRESSING:
        suppress(address, kind)
    if kind in OPTING_OUT:
        contact = None
        if message is not None and message.contact_id:
            from crm.contacts.models import Contact

            contact = db.session.get(Contact, message.contact_id)
        opt_out(address, contact)
    status = EVENT_STATUS.get(kind)
    if message is None or status is None:
        return
    if message.status in UNSETTLED:
        message.claimed_until = None
        message.sent_at = message.sent_at or _event_time(event)
        if message.status != EmailStatus.SENT:
            message.last_error = f"Settled by SendGrid's {kind} event: SendGrid had this message."
        message.status = EmailStatus.SENT
        if not message.provider_message_id and event.get("sg_message_id"):
            message.provider_message_id = str(event["sg_message_id"]).split(".")[0][:200]
        touch = log_sent_touch(message)
        message.touch_id = touch.id if touch is not None else message.touch_id
    if RANK.get(status, 0) > RANK.get(message.status, 0):
        message.status = status
    if kind in ("bounce", "dropped") or message.status == EmailStatus.DEFERRED:  # SendGrid's reason, for people
        message.last_error = str(event.get("reason") or event.get("response") or kind)[:2000]
    if message.touch_id:
        touch = db.session.get(Touch, message.touch_id)
        outcome = TOUCH_OUTCOME.get(message.status)
        if touch is not None and outcome is not None:
            touch.outcome = outcome


def find_message(event: dict) -> OutboundEmail | None:
    """Our message for an event: by the custom arg we set, else by SendGrid's message id."""
    ours = event.get(CUSTOM_ARG)
    if ours is None and isinstance(event.get("unique_args"), dict):
        ours = event["unique_args"].get(CUSTOM_ARG)
    if ours is not None and str(ours).isdigit():
        message = db.session.get(OutboundEmail, int(ours), populate_existing=True, with_for_update=True)
        if message is not None:
            return message
    sg_id = str(event.get("sg_message_id") or "").split(".")[0]
    if sg_id:
        return db.session.scalar(select(OutboundEmail).where(OutboundEmail.provider_message_id == sg_id).limit(1)
                                 .with_for_update())
    return None


def _event_time(event: dict) -> datetime:
    try:
        return datetime.fromtimestamp(int(event.get("timestamp")), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return utcnow()


def _fallback_id(event: dict) -> str:
    """An id for an event without sg_event_id: the hash of its content, so a redelivery matches."""
    return "sha256:" + hashlib.sha256(json.dumps(event, sort_keys=True, default=str).encode()).hexdigest()
