"""Shared set-up for cadence tests: the default cadence, a lead in it, calls logged at frozen times."""

from __future__ import annotations

from datetime import datetime

import time_machine
from sqlalchemy import select

from crm.cadences.defaults import ensure_defaults
from crm.cadences.models import CadenceEnrollment
from crm.email.models import OutboundEmail
from crm.extensions import db
from crm.touches.service import log_touch
from tests import factories as f


def default_cadence_in_place():
    ensure_defaults()


def new_lead(at: datetime, timezone: str, owner=None, **contact_fields):
    """A lead created at ``at`` (frozen) for a contact in ``timezone``."""
    owner = owner or f.user(timezone="Europe/Lisbon")
    with time_machine.travel(at, tick=False):
        return f.lead(owner, f.contact(timezone=timezone, **contact_fields))


def enrollment_of(lead) -> CadenceEnrollment:
    enrollment = db.session.scalar(select(CadenceEnrollment).where(CadenceEnrollment.lead_id == lead.id))
    db.session.refresh(enrollment)
    return enrollment


def call(lead, at: datetime, outcome: str = "no_answer", **kw):
    """A rep's outbound call on ``lead`` at ``at`` (frozen), logged as every page and API does."""
    with time_machine.travel(at, tick=False):
        return log_touch(contact=lead.contact, lead=lead, user=lead.owner, channel="call", direction="outbound",
                         outcome=outcome, occurred_at=at, **kw).touch


def emails_for(lead) -> list[OutboundEmail]:
    return list(db.session.scalars(select(OutboundEmail).where(OutboundEmail.lead_id == lead.id)))
