"""The outbox: every email is a row first, keyed so that it can never be queued twice.

A sender (crm.email.sender) claims queued rows and hands them to SendGrid.
"""

from __future__ import annotations

import secrets

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm.contacts.models import Contact
from crm.db import utcnow
from crm.email.models import EmailStatus, EmailTemplate, OutboundEmail, Suppression, TemplateKind
from crm.email.rendering import render, template_context
from crm.errors import DomainError, NotFound
from crm.extensions import db


class EmailBlocked(DomainError):
    """The address is suppressed, or the contact opted out of this kind of email."""

    status = 422
    code = "email_blocked"


def is_suppressed(address: str) -> bool:
    return db.session.scalar(
        select(Suppression.id).where(Suppression.email == address.strip().lower(), Suppression.lifted_at.is_(None))
    ) is not None


def find_template(key: str, locale: str | None) -> EmailTemplate:
    """The template for ``key`` in ``locale``, falling back to its language, then English."""
    candidates = [c for c in (locale, (locale or "").split("-")[0], "en") if c]
    rows = db.session.scalars(select(EmailTemplate).where(EmailTemplate.key == key,
                                                          EmailTemplate.locale.in_(candidates))).all()
    by_locale = {t.locale: t for t in rows}
    for candidate in candidates:
        if candidate in by_locale:
            return by_locale[candidate]
    raise NotFound(_("There is no email template “%(key)s”.", key=key), code="template_missing")


def queue_email(*, idempotency_key: str, to_email: str | None = None, contact: Contact | None = None, lead=None,
                user=None, template_key: str | None = None, subject: str | None = None, body: str | None = None,
                kind: TemplateKind = TemplateKind.TRANSACTIONAL, extra_context: dict | None = None) -> OutboundEmail:
    """Queue one email; the same idempotency key returns the message already queued.

    Either ``template_key`` (rendered for the contact's locale) or ``subject`` and
    ``body`` (Jinja, same sandbox). Suppressed addresses and marketing email to an
    opted-out contact raise EmailBlocked.
    """
    existing = db.session.scalar(select(OutboundEmail).where(OutboundEmail.idempotency_key == idempotency_key))
    if existing is not None:
        return existing
    address = (to_email or (contact.email if contact else None) or "").strip().lower()
    if not address:
        raise EmailBlocked(_("This contact has no email address."), fields={"to": _("No email address.")})
    if is_suppressed(address):
        raise EmailBlocked(_("%(address)s is on the suppression list.", address=address), fields={"to": _("Suppressed address.")})
    if template_key:
        template = find_template(template_key, contact.locale if contact else None)
        subject, body, kind = template.subject, template.body, template.kind
    if kind == TemplateKind.MARKETING and contact is not None and contact.email_opt_out:
        raise EmailBlocked(_("This contact opted out of marketing email."), fields={"to": _("Opted out.")})
    reply_token = secrets.token_urlsafe(16)
    context = template_context(contact, lead, user, unsubscribe_url=unsubscribe_url(reply_token))
    context.update(extra_context or {})
    subject_text, text, html = render(subject or "", body or "", context)
    message = OutboundEmail(
        idempotency_key=idempotency_key, contact_id=getattr(contact, "id", None), lead_id=getattr(lead, "id", None),
        user_id=getattr(user, "id", None), template_key=template_key, kind=kind, to_email=address,
        from_email=current_app.config["MAIL_FROM"], reply_to=f"reply+{reply_token}@{current_app.config['INBOUND_REPLY_DOMAIN']}",
        subject=subject_text, body_text=text, body_html=html, status=EmailStatus.QUEUED, next_attempt_at=utcnow(),
        reply_token=reply_token,
    )
    try:
        with db.session.begin_nested():  # two queuers with one key: the second gets the first's row
            db.session.add(message)
            db.session.flush()
    except IntegrityError:
        return db.session.scalar(select(OutboundEmail).where(OutboundEmail.idempotency_key == idempotency_key))
    return message


def unsubscribe_url(token: str) -> str:
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/unsubscribe/{token}"


def count_queued() -> int:
    return db.session.scalar(select(func.count()).select_from(OutboundEmail)
                             .where(OutboundEmail.status == EmailStatus.QUEUED)) or 0
