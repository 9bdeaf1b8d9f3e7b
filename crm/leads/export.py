"""CSV export of the filtered lists: streamed, and safe to open in a spreadsheet.

A cell that a spreadsheet would run as a formula (starting with = + - @, a tab or a
carriage return) is prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm import access
from crm.auth.models import User
from crm.contacts.models import Contact
from crm.contacts.search import matches_search
from crm.extensions import db
from crm.leads.filters import LeadFilters, filtered_leads
from crm.leads.models import Lead
from crm.touches.models import Touch

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 1000


def safe_cell(value) -> str:
    text = "" if value is None else (value.value if hasattr(value, "value") else str(value))
    text = str(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _lines(header: list[str], rows: Iterator[list]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _batched(stmt, id_column) -> Iterator:
    """Walk a statement newest-first in keyset batches, so memory stays flat."""
    last = None
    while True:
        query = stmt if last is None else stmt.where(id_column < last)
        rows = db.session.scalars(query.order_by(id_column.desc()).limit(BATCH)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id
        db.session.expunge_all()


def leads_csv(user: User, filters: LeadFilters) -> Iterator[str]:
    stmt = filtered_leads(user, filters).options(selectinload(Lead.contact), selectinload(Lead.owner),
                                                 selectinload(Lead.source), selectinload(Lead.campaign),
                                                 selectinload(Lead.lost_reason))
    header = ["id", "title", "stage", "status", "contact", "email", "phone", "owner", "source", "campaign", "value",
              "currency", "score", "lost_reason", "created_at", "closed_at"]
    rows = ([lead.id, lead.title, lead.stage, lead.status, lead.contact.full_name, lead.contact.email,
             lead.contact.phone, lead.owner.name if lead.owner else "", lead.source.name if lead.source else "",
             lead.campaign.name if lead.campaign else "", lead.value, lead.currency, lead.score,
             lead.lost_reason.label if lead.lost_reason else "", lead.created_at.isoformat(),
             lead.closed_at.isoformat() if lead.closed_at else ""] for lead in _batched(stmt, Lead.id))
    return _lines(header, rows)


def contacts_csv(user: User, q: str | None = None) -> Iterator[str]:
    stmt = access.visible_contacts(user).options(selectinload(Contact.account))
    if q:
        stmt = stmt.where(matches_search(Contact.id, q, db.session, user))
    header = ["id", "first_name", "last_name", "email", "phone", "company", "country", "timezone", "locale",
              "do_not_call", "email_opt_out", "created_at"]
    rows = ([c.id, c.first_name, c.last_name, c.email, c.phone, c.account.name if c.account else "", c.country,
             c.timezone, c.locale, c.do_not_call, c.email_opt_out, c.created_at.isoformat()]
            for c in _batched(stmt, Contact.id))
    return _lines(header, rows)


def touches_csv(user: User, filters: LeadFilters) -> Iterator[str]:
    lead_ids = filtered_leads(user, filters).with_only_columns(Lead.id)
    stmt = select(Touch).where(Touch.lead_id.in_(lead_ids)).options(selectinload(Touch.user))
    header = ["id", "lead_id", "contact_id", "channel", "direction", "outcome", "occurred_at", "talk_seconds",
              "hold_seconds", "wrap_seconds", "queue_seconds", "user", "subject", "notes"]
    rows = ([t.id, t.lead_id, t.contact_id, t.channel, t.direction, t.outcome, t.occurred_at.isoformat(),
             t.talk_seconds, t.hold_seconds, t.wrap_seconds, t.queue_seconds, t.user.name if t.user else "", t.subject,
             t.body] for t in _batched(stmt, Touch.id))
    return _lines(header, rows)
