"""SendGrid Inbound Parse: a received email becomes an inbound email touch on the right contact.

SendGrid posts the email as multipart/form-data (fields ``from``, ``to``, ``subject``,
``text``, ``html``, ``headers``, ``envelope``, ``charsets``, ``attachment-info`` and the
files ``attachment1`` …). The text fields arrive in the sender's own charset, named in
``charsets``, so the form is read as bytes here (the web framework would decode it as
UTF-8 and spoil ISO-8859-1 or windows-1251 mail).

Threading: the ``reply+<token>@`` address we put in Reply-To, else In-Reply-To /
References naming our Message-ID or SendGrid's message id. A reply ends the lead's
cadence and gives its owner a follow-up task; a sender we do not know becomes a new
contact with a lead in discover (source "inbound email").
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses, parseaddr

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm.cadences.service import stop_cadence
from crm.contacts.models import Contact
from crm.contacts.service import find_existing, find_or_create_contact
from crm.db import utcnow
from crm.email.models import OutboundEmail
from crm.email.sanitise import html_to_text, sanitise_html
from crm.email.service import find_by_token
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.i18n import in_language_of
from crm.integrations.models import InboundEvent
from crm.leads.models import Lead, LeadStatus
from crm.leads.service import create_lead
from crm.tasks.models import Task, TaskKind
from crm.touches.models import Channel, Direction, Outcome
from crm.touches.service import log_touch

SOURCE = "sendgrid-inbound"
LEAD_SOURCE = "inbound email"
TEXT_FIELDS = ("from", "to", "cc", "subject", "text", "html", "headers", "envelope", "charsets", "attachment-info",
               "attachments", "spam_score", "sender_ip", "SPF", "dkim")
MAX_BODY_CHARS = 100_000
OUR_MESSAGE_ID = re.compile(r"^touchline\.(\d+)\.([A-Za-z0-9_-]+)$")


@dataclass
class Attachment:
    field: str
    filename: str
    content_type: str
    size: int

    def describe(self) -> str:
        return f"{self.filename} ({self.content_type}, {_human_size(self.size)})"


@dataclass
class InboundEmail:
    """The parts of a posted email we use, decoded."""

    sender_name: str
    sender_email: str
    to: list[str]
    subject: str
    text: str
    html: str
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    attachments: list[Attachment] = field(default_factory=list)
    charsets: dict = field(default_factory=dict)

    @property
    def reply_tokens(self) -> list[str]:
        local_prefix = "reply+"
        domain = current_app.config["INBOUND_REPLY_DOMAIN"].lower()
        tokens = []
        for address in self.to:
            local, _, host = address.rpartition("@")
            if host.lower() == domain and local.lower().startswith(local_prefix):
                tokens.append(local[len(local_prefix):])
        return tokens


def read_form(body: bytes, content_type: str) -> tuple[dict[str, bytes], list[tuple[str, str, str, bytes]]]:
    """Fields as raw bytes, and files as (field, filename, content type, bytes), from a multipart body."""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type.lower():
        raise ValidationFailed(_("Inbound Parse posts multipart/form-data."), fields={"content_type": content_type[:100]})
    envelope = b"Content-Type: " + content_type.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n"
    message = BytesParser(policy=policy.HTTP).parsebytes(envelope + body)
    if not message.is_multipart():
        raise ValidationFailed(_("The form could not be read."), fields={"body": _("Not a multipart body.")})
    fields: dict[str, bytes] = {}
    files: list[tuple[str, str, str, bytes]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files.append((str(name), str(filename), part.get_content_type(), payload))
        else:
            fields[str(name)] = payload
    return fields, files


def decode_field(raw: bytes, charset: str | None) -> str:
    """A field in its declared charset; an unknown or wrong charset falls back to UTF-8, then Latin-1."""
    if charset:
        try:
            codecs.lookup(charset)
        except LookupError:
            charset = None
    for candidate in (charset, "utf-8"):
        if candidate:
            try:
                return raw.decode(candidate)
            except UnicodeDecodeError:
                continue
    return raw.decode("latin-1")


def parse_inbound(fields: dict[str, bytes], files: list[tuple[str, str, str, bytes]]) -> InboundEmail:
    try:
        charsets = json.loads(fields.get("charsets", b"{}").decode("utf-8", "replace") or "{}")
    except ValueError:
        charsets = {}
    if not isinstance(charsets, dict):
        charsets = {}

    def text(name: str) -> str:
        return decode_field(fields.get(name, b""), charsets.get(name))

    sender_name, sender_email = parseaddr(text("from"))
    sender_email = sender_email.strip().lower()
    if "@" not in sender_email:
        raise ValidationFailed(_("The email has no sender address."), fields={"from": _("No address.")})
    headers: Message = HeaderParser(policy=policy.default).parsestr(text("headers") or "")
    to = [addr.lower() for _name, addr in getaddresses([text("to"), text("cc")]) if addr]
    try:
        envelope = json.loads(text("envelope") or "{}")
        to += [str(a).lower() for a in envelope.get("to", []) if a]
    except (ValueError, AttributeError):
        pass  # the envelope is a courtesy; the To/Cc fields were read above
    subject = text("subject") or str(headers.get("Subject", "") or "")
    try:
        info = json.loads(text("attachment-info") or "{}")
    except ValueError:
        info = {}
    attachments = []
    for field_name, filename, content_type, data in files:
        meta = info.get(field_name, {}) if isinstance(info, dict) else {}
        attachments.append(Attachment(field_name, str(meta.get("filename") or filename or field_name)[:200],
                                      str(meta.get("type") or content_type)[:100], len(data)))
    return InboundEmail(
        sender_name=sender_name.strip(), sender_email=sender_email, to=list(dict.fromkeys(to)),
        subject=" ".join(subject.split())[:300], text=text("text")[:MAX_BODY_CHARS],
        html=text("html")[:MAX_BODY_CHARS * 5], message_id=_first_id(headers.get("Message-ID")),
        in_reply_to=_ids(headers.get("In-Reply-To")), references=_ids(headers.get("References")),
        attachments=attachments, charsets=charsets,
    )


@dataclass
class InboundResult:
    duplicate: bool
    touch_id: int | None = None
    contact_id: int | None = None
    lead_id: int | None = None
    threaded_to: int | None = None  # our outbound message it answers
    created_lead: bool = False
    task_id: int | None = None


def receive(email: InboundEmail, now: datetime | None = None) -> InboundResult:
    """Record one received email (once, however often SendGrid posts it); flushes, never commits."""
    now = now or utcnow()
    event_id = email.message_id or ("sha256:" + hashlib.sha256(
        "\n".join([email.sender_email, email.subject, email.text, email.html]).encode()).hexdigest())
    stored = InboundEvent(source=SOURCE, event_id=event_id[:200], kind="email", received_at=now, payload={})
    try:
        with db.session.begin_nested():
            db.session.add(stored)
            db.session.flush()
    except IntegrityError:
        return InboundResult(duplicate=True)

    original = find_original(email)
    contact, created = _contact_for(email, original)
    lead, created_lead = _lead_for(contact, original, created)
    body = email.text.strip() or html_to_text(email.html)
    if email.attachments:
        body += "\n\n" + "Attachments: " + "; ".join(a.describe() for a in email.attachments)
    logged = log_touch(contact=contact, channel=Channel.EMAIL, direction=Direction.INBOUND,
                       outcome=Outcome.REPLIED if original else Outcome.RECEIVED, lead=lead, occurred_at=now,
                       provider=SOURCE, external_id=event_id[:200], subject=email.subject, body=body,
                       conversation_id=str(original.id) if original else None)
    task = None
    if lead is not None:
        if original is not None:
            stop_cadence(lead, "replied")
        task = _follow_up_task(lead, contact, email, event_id, original is not None, now)
    stored.subject_key = event_id[:200]
    stored.payload = {
        "touch_id": logged.touch.id, "from": email.sender_email, "from_name": email.sender_name, "to": email.to,
        "subject": email.subject, "html": sanitise_html(email.html), "text": email.text,
        "attachments": [a.__dict__ for a in email.attachments], "charsets": email.charsets,
        "in_reply_to": email.in_reply_to, "threaded_to": original.id if original else None,
    }
    stored.processed_at = now
    db.session.flush()
    return InboundResult(duplicate=False, touch_id=logged.touch.id, contact_id=contact.id,
                         lead_id=lead.id if lead else None, threaded_to=original.id if original else None,
                         created_lead=created_lead, task_id=task.id if task else None)


def find_original(email: InboundEmail) -> OutboundEmail | None:
    """The message of ours this email answers, if it says."""
    for token in email.reply_tokens:
        found = find_by_token(token)
        if found is not None:
            return found
    for reference in [*email.in_reply_to, *reversed(email.references)]:
        local = reference.partition("@")[0]
        ours = OUR_MESSAGE_ID.match(local)
        if ours:
            found = db.session.get(OutboundEmail, int(ours.group(1)))
            if found is not None and found.reply_token == ours.group(2):
                return found
            continue
        sg_id = local.split(".")[0]
        if sg_id:
            found = db.session.scalar(select(OutboundEmail).where(OutboundEmail.provider_message_id == sg_id).limit(1))
            if found is not None:
                return found
    return None


def _contact_for(email: InboundEmail, original: OutboundEmail | None) -> tuple[Contact, bool]:
    known, _on = find_existing(email.sender_email, None)
    if known is not None:
        return known, False
    if original is not None and original.contact_id:
        contact = db.session.get(Contact, original.contact_id)
        if contact is not None:  # answered from another address of theirs: the thread tells who
            return contact, False
    first, _, last = (email.sender_name or email.sender_email.split("@")[0]).partition(" ")
    try:
        match = find_or_create_contact(first_name=first[:120] or email.sender_email, last_name=last[:120],
                                       email=email.sender_email)
    except ValidationFailed:
        # An address our validator refuses (odd domain, odd name) still sent us mail: keep who wrote, as written.
        match = find_or_create_contact(first_name=email.sender_email[:120], last_name="", email=None)
        match.contact.email = email.sender_email[:254]
    return match.contact, match.created


def _lead_for(contact: Contact, original: OutboundEmail | None, new_contact: bool) -> tuple[Lead | None, bool]:
    if original is not None and original.lead_id:
        lead = db.session.get(Lead, original.lead_id)
        if lead is not None and lead.contact_id == contact.id:
            return lead, False
    lead = db.session.scalar(select(Lead).where(Lead.contact_id == contact.id, Lead.status == LeadStatus.OPEN)
                             .order_by(Lead.created_at.desc(), Lead.id.desc()).limit(1))
    if lead is not None:
        return lead, False
    if new_contact or not db.session.scalar(select(Lead.id).where(Lead.contact_id == contact.id).limit(1)):
        return create_lead(contact, actor=None, source=LEAD_SOURCE, title=contact.full_name), True
    return None, False


def _follow_up_task(lead: Lead, contact: Contact, email: InboundEmail, event_id: str, is_reply: bool,
                    now: datetime) -> Task:
    key = f"inbound-email:{hashlib.sha256(event_id.encode()).hexdigest()[:40]}"
    existing = db.session.scalar(select(Task).where(Task.dedupe_key == key))
    if existing is not None:
        return existing
    who = contact.full_name or email.sender_email
    with in_language_of(lead.owner):  # the task is the owner's, whoever posted the webhook
        title = (_("Reply from %(who)s: %(subject)s", who=who, subject=email.subject) if is_reply
                 else _("New email from %(who)s: %(subject)s", who=who, subject=email.subject))[:200]
    task = Task(kind=TaskKind.EMAIL, title=title, lead_id=lead.id, contact_id=contact.id, assignee_id=lead.owner_id,
                due_at=now, origin="inbound_reply" if is_reply else "inbound_email",
                dedupe_key=key, notes=email.text[:2000])
    db.session.add(task)
    db.session.flush()
    return task


def _ids(value) -> list[str]:
    return [m.strip() for m in re.findall(r"<([^<>\s]+)>", str(value or ""))]


def _first_id(value) -> str | None:
    ids = _ids(value)
    return ids[0] if ids else (str(value).strip() or None if value else None)


def _human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"
