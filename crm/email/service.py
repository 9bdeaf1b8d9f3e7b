"""Email rules people act on: templates, the suppression list, unsubscribes, sending again.

Like every service these flush and never commit; the request or command commits.
"""

from __future__ import annotations

import re
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm.audit.service import record
from crm.contacts.models import Contact
from crm.db import utcnow
from crm.email.models import EmailStatus, EmailTemplate, OutboundEmail, Suppression, TemplateKind
from crm.email.rendering import check_template
from crm.errors import Conflict, ValidationFailed
from crm.extensions import db
from crm.i18n import N_
from crm.labels import label

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,79}$")
LOCALE_PATTERN = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
# Stored on the message by the sender (in English); the outbox shows them translated.
NO_API_KEY = N_("not sent (no API key)")
UNKNOWN_OUTCOME = N_("outcome unknown: the sender stopped while handing this message to SendGrid, so it is "
                      "not sent again automatically")


# --- templates -----------------------------------------------------------------------------------

def save_template(template: EmailTemplate | None, *, key: str, locale: str, name: str, kind, subject: str,
                  body: str, actor) -> EmailTemplate:
    """Create or change a template; a bad key, locale or a template using other fields is refused."""
    key, locale = (key or "").strip().lower(), (locale or "").strip()
    errors = {}
    if not KEY_PATTERN.match(key):
        errors["key"] = _("Lower-case letters, digits, dots, dashes and underscores (up to 80).")
    if not LOCALE_PATTERN.match(locale):
        errors["locale"] = _("A language code such as en, pt or pt-BR.")
    try:
        kind = TemplateKind(kind)
    except ValueError:
        errors["kind"] = _("Transactional or marketing.")
    if not (subject or "").strip():
        errors["subject"] = _("A subject is required.")
    if errors:
        raise ValidationFailed(_("The template is not valid."), fields=errors)
    check_template(subject, body)  # ValidationFailed naming subject or body
    clash = db.session.scalar(select(EmailTemplate.id).where(EmailTemplate.key == key, EmailTemplate.locale == locale))
    if clash is not None and (template is None or clash != template.id):
        raise Conflict(_("There is already a %(key)s template in %(locale)s.", key=key, locale=locale),
                       fields={"key": _("This key already has a template in this locale.")})
    created = template is None
    if created:
        template = EmailTemplate()
        db.session.add(template)
    before = {} if created else {"subject": template.subject, "body": template.body, "kind": template.kind}
    template.key, template.locale, template.name, template.kind = key, locale, (name or "").strip(), kind
    template.subject, template.body = subject.strip(), body
    db.session.flush()
    record(actor, "email_template.created" if created else "email_template.updated", template,
           {"key": key, "locale": locale, **({"before": before} if before else {})})
    return template


# --- the suppression list ------------------------------------------------------------------------

def suppress(address: str, reason: str, at: datetime | None = None) -> Suppression | None:
    """Put an address on the suppression list (again, if an admin had lifted it)."""
    address = (address or "").strip().lower()
    if not address or "@" not in address:
        return None
    row = db.session.scalar(select(Suppression).where(Suppression.email == address))
    if row is not None:
        if row.lifted_at is not None:
            row.lifted_at, row.lifted_by_id, row.reason, row.created_at = None, None, reason, at or utcnow()
        return row
    row = Suppression(email=address, reason=reason, created_at=at or utcnow())
    try:
        with db.session.begin_nested():  # two events for one address at once: one row
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        return db.session.scalar(select(Suppression).where(Suppression.email == address))
    return row


def lift_suppression(row: Suppression, actor) -> Suppression:
    """An admin lets the address be emailed again; audited."""
    if row.lifted_at is not None:
        raise Conflict(_("This address was already lifted."), fields={"suppression": _("Already lifted.")})
    row.lifted_at, row.lifted_by_id = utcnow(), actor.id
    db.session.flush()
    record(actor, "suppression.lifted", row, {"email": row.email, "reason": row.reason})
    return row


def opt_out(address: str, contact: Contact | None = None) -> list[Contact]:
    """Mark the contact (and every contact with this address) as opted out of email."""
    address = (address or "").strip().lower()
    contacts = list(db.session.scalars(select(Contact).where(func.lower(Contact.email) == address))) if address else []
    if contact is not None and contact not in contacts:
        contacts.append(contact)
    for person in contacts:
        if not person.email_opt_out:
            person.email_opt_out = True
            record(None, "contact.email_opt_out", person, {"email": address})
    return contacts


def find_by_token(token: str) -> OutboundEmail | None:
    """The message whose reply/unsubscribe token this is (mail systems may lower-case it)."""
    token = (token or "").strip()
    if not token or len(token) > 64:
        return None
    found = db.session.scalar(select(OutboundEmail).where(OutboundEmail.reply_token == token))
    if found is None:
        found = db.session.scalar(select(OutboundEmail).where(func.lower(OutboundEmail.reply_token) == token.lower())
                                  .order_by(OutboundEmail.id).limit(1))
    return found


def unsubscribe(message: OutboundEmail) -> Suppression | None:
    """The recipient of ``message`` unsubscribes: opted out and on the suppression list."""
    contact = db.session.get(Contact, message.contact_id) if message.contact_id else None
    opt_out(message.to_email, contact)
    return suppress(message.to_email, "unsubscribe")


# --- the outbox as people see it -----------------------------------------------------------------

def status_label(message: OutboundEmail, now: datetime | None = None) -> str:
    """What a person reads for the message's state."""
    now = now or utcnow()
    if message.status == EmailStatus.NOT_SENT:
        return _("not sent (no API key)")
    if message.status == EmailStatus.SENDING and message.claimed_until and message.claimed_until < now:
        return _("outcome unknown")
    if message.status == EmailStatus.QUEUED and message.attempts:
        return _("retrying (attempt %(n)d failed)", n=message.attempts)
    return label(message.status)


def can_send_again(message: OutboundEmail, now: datetime | None = None) -> bool:
    now = now or utcnow()
    stuck = message.status == EmailStatus.SENDING and message.claimed_until is not None and message.claimed_until < now
    return message.status in (EmailStatus.NOT_SENT, EmailStatus.FAILED) or stuck


def send_again(message: OutboundEmail, actor) -> OutboundEmail:
    """A person decides to send a not-sent, failed or outcome-unknown message again."""
    if not can_send_again(message):
        raise Conflict(_("Only a message that was not sent, failed, or whose outcome is unknown can be sent again."),
                       fields={"status": status_label(message)})
    reason = blocked_reason(message)
    if reason:
        raise Conflict(reason, fields={"to": reason})
    before, previous_error = message.status, message.last_error
    message.status, message.next_attempt_at, message.claimed_until = EmailStatus.QUEUED, utcnow(), None
    message.attempts, message.last_error = 0, ""
    db.session.flush()
    record(actor, "outbound_email.send_again", message, {"from": before, "last_error": previous_error})
    return message


def blocked_reason(message: OutboundEmail) -> str | None:
    """Why ``message`` may not go out now (suppressed address, opted-out contact), or None."""
    return blocked_reasons([message]).get(message.id)


def blocked_reasons(messages: list[OutboundEmail]) -> dict[int, str]:
    """The same question for many messages at once (two queries): {message id: why not}."""
    if not messages:
        return {}
    addresses = {m.to_email for m in messages}
    suppressed = set(db.session.scalars(select(Suppression.email).where(Suppression.email.in_(addresses),
                                                                         Suppression.lifted_at.is_(None))))
    marketing = {m.contact_id for m in messages if m.kind == TemplateKind.MARKETING and m.contact_id}
    opted_out = set(db.session.scalars(select(Contact.id).where(Contact.id.in_(marketing),
                                                                Contact.email_opt_out.is_(True)))) if marketing else set()
    reasons = {}
    for m in messages:
        if m.to_email in suppressed:
            reasons[m.id] = _("%(email)s is on the suppression list.", email=m.to_email)
        elif m.kind == TemplateKind.MARKETING and m.contact_id in opted_out:
            reasons[m.id] = _("The contact opted out of marketing email.")
    return reasons
