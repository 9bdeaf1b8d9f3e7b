"""Hand-built records for report tests: every time given, so every figure is known."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from crm.extensions import db
from crm.leads import service as leads
from crm.leads.models import Lead, Stage, StageChange
from crm.touches.models import Touch
from tests import factories


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def lead_at(owner, created: datetime, **kw) -> Lead:
    return factories.lead(owner=owner, created_at=created, **kw)


def move(lead: Lead, *path_and_times) -> None:
    """move(lead, (Stage.NURTURE, at), ...) one step at a time through the service."""
    for stage, at in path_and_times:
        leads.change_stage(lead, stage, actor=lead.owner, at=at)


def jump(lead: Lead, stage: Stage, at: datetime) -> None:
    """A move that skips stages (imports and old data have them): written as the history shows it."""
    db.session.add(StageChange(lead=lead, from_stage=lead.stage, to_stage=stage, from_status=lead.status,
                               to_status=lead.status, changed_at=at))
    lead.stage = stage
    lead.stage_changed_at = at
    db.session.flush()


def win(lead: Lead, at: datetime, value="1000") -> None:
    leads.mark_won(lead, actor=lead.owner, value=Decimal(value), at=at)


def lose(lead: Lead, at: datetime, reason) -> None:
    leads.mark_lost(lead, actor=lead.owner, reason=reason.id, at=at)


def touch(user, lead: Lead | None, channel: str, direction: str, outcome: str | None, at: datetime, *,
          contact=None, **seconds) -> Touch:
    t = Touch(contact=contact or lead.contact, lead=lead, user=user, channel=channel, direction=direction,
              outcome=outcome, occurred_at=at, campaign_id=lead.campaign_id if lead else None, **seconds)
    db.session.add(t)
    db.session.flush()
    return t
