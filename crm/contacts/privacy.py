"""A person's data on request: everything we hold as JSON, or erased.

Erasure anonymises personal fields (names, addresses, numbers, handles, what was
said or written) but keeps the rows, so counts, durations and outcomes still add
up in the reports. Both are audited.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select, update

from crm.audit.service import record
from crm.contacts.models import Contact, ContactHandle
from crm.db import utcnow
from crm.email.models import OutboundEmail
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.leads.models import Lead
from crm.tasks.models import Task
from crm.touches.models import Survey, Touch


def _plain(obj, columns) -> dict:
    out = {}
    for name in columns:
        value = getattr(obj, name)
        out[name] = value.isoformat() if hasattr(value, "isoformat") else (
            value.value if hasattr(value, "value") else (str(value) if value is not None and not isinstance(
                value, (bool, int, str)) else value))
    return out


def export_contact(contact: Contact, *, actor) -> dict:
    """Everything held about ``contact``: person, leads, touches, tasks, emails, surveys."""
    leads = db.session.scalars(select(Lead).where(Lead.contact_id == contact.id).order_by(Lead.id)).all()
    touches = db.session.scalars(select(Touch).where(Touch.contact_id == contact.id).order_by(Touch.id)).all()
    tasks = db.session.scalars(select(Task).where(Task.contact_id == contact.id).order_by(Task.id)).all()
    emails = db.session.scalars(select(OutboundEmail).where(OutboundEmail.contact_id == contact.id)
                                .order_by(OutboundEmail.id)).all()
    surveys = db.session.scalars(select(Survey).where(Survey.contact_id == contact.id).order_by(Survey.id)).all()
    data = {
        "contact": _plain(contact, ["id", "first_name", "last_name", "email", "phone", "timezone", "locale", "country",
                                    "do_not_call", "email_opt_out", "created_at", "updated_at", "erased_at"])
        | {"company": contact.account.name if contact.account else None,
           "handles": [{"platform": h.platform, "handle": h.handle} for h in contact.handles]},
        "leads": [_plain(lead, ["id", "title", "stage", "status", "value", "currency", "created_at", "closed_at"])
                  for lead in leads],
        "touches": [_plain(t, ["id", "lead_id", "channel", "direction", "outcome", "occurred_at", "talk_seconds",
                               "subject", "body", "ani", "dnis", "recording_url", "platform", "handle"]) for t in touches],
        "tasks": [_plain(t, ["id", "lead_id", "title", "notes", "due_at", "status"]) for t in tasks],
        "emails": [_plain(e, ["id", "to_email", "subject", "body_text", "status", "sent_at", "created_at"]) for e in emails],
        "surveys": [_plain(s, ["id", "score", "comment", "sent_at", "answered_at"]) for s in surveys],
    }
    record(actor, "contact.exported", contact, {"touches": len(touches), "leads": len(leads)})
    return data


def erase_contact(contact: Contact, *, actor) -> Contact:
    """Anonymise ``contact`` and what they said; keep the history's shape for reports."""
    if contact.erased_at is not None:
        raise ValidationFailed(_("This contact was already erased."), fields={"contact": _("Already erased.")})
    contact.first_name, contact.last_name = "Erased", f"contact #{contact.id}"
    contact.email = contact.phone = contact.country = None
    contact.account_id = None
    contact.do_not_call = contact.email_opt_out = True  # never contact them again
    contact.erased_at = utcnow()
    db.session.execute(update(ContactHandle).where(ContactHandle.contact_id == contact.id)
                       .values(handle=ContactHandle.id.cast(db.String) + "-erased"))
    db.session.execute(update(Touch).where(Touch.contact_id == contact.id).values(
        subject="", body="", ani=None, dnis=None, recording_url=None, handle=None))
    db.session.execute(update(Task).where(Task.contact_id == contact.id).values(notes=""))
    db.session.execute(update(OutboundEmail).where(OutboundEmail.contact_id == contact.id).values(
        to_email="erased@invalid", subject="", body_text="", body_html=""))
    db.session.execute(update(Survey).where(Survey.contact_id == contact.id).values(comment=""))
    db.session.execute(update(Lead).where(Lead.contact_id == contact.id).values(title=f"Lead of erased contact #{contact.id}"))
    db.session.flush()
    db.session.expire_all()
    record(actor, "contact.erased", contact)
    return contact
