"""One timeline of everything that happened with a contact, newest first.

Touches on every channel, with the stage changes, tasks and hand-offs of the
contact's leads woven in. A fixed number of queries however long the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from crm.contacts.models import Contact
from crm.extensions import db
from crm.handoffs.models import Handoff
from crm.leads.models import Lead, StageChange
from crm.tasks.models import Task
from crm.touches.models import Channel, Touch


@dataclass(frozen=True)
class TimelineItem:
    kind: str  # "touch", "stage_change", "task", "handoff"
    at: datetime
    item: object


def contact_timeline(contact: Contact, *, channel: Channel | str | None = None, before: datetime | None = None,
                     limit: int = 100) -> list[TimelineItem]:
    """The newest ``limit`` items before ``before``; ``channel`` keeps only that channel's touches."""
    # The ids as values, not a subquery: "contact_id = x OR lead_id IN (subquery)" made PostgreSQL
    # scan every task (24 ms at 230k tasks); with values it combines the two indexes (0.1 ms).
    lead_ids = list(db.session.scalars(select(Lead.id).where(Lead.contact_id == contact.id)))

    touches = select(Touch).where(Touch.contact_id == contact.id).options(selectinload(Touch.user))
    if channel:
        touches = touches.where(Touch.channel == Channel(channel))
    if before:
        touches = touches.where(Touch.occurred_at < before)
    items = [TimelineItem("touch", t.occurred_at, t)
             for t in db.session.scalars(touches.order_by(Touch.occurred_at.desc()).limit(limit))]

    changes = select(StageChange).where(StageChange.lead_id.in_(lead_ids)).options(selectinload(StageChange.changed_by))
    tasks = select(Task).where(or_(Task.contact_id == contact.id, Task.lead_id.in_(lead_ids))) \
        .options(selectinload(Task.assignee))
    handoffs = select(Handoff).where(Handoff.lead_id.in_(lead_ids)) \
        .options(selectinload(Handoff.from_user), selectinload(Handoff.to_user), selectinload(Handoff.approved_by))
    if before:
        changes = changes.where(StageChange.changed_at < before)
        tasks = tasks.where(Task.created_at < before)
        handoffs = handoffs.where(Handoff.created_at < before)
    items += [TimelineItem("stage_change", c.changed_at, c)
              for c in db.session.scalars(changes.order_by(StageChange.changed_at.desc()).limit(limit))]
    items += [TimelineItem("task", t.created_at, t)
              for t in db.session.scalars(tasks.order_by(Task.created_at.desc()).limit(limit))]
    items += [TimelineItem("handoff", h.created_at, h)
              for h in db.session.scalars(handoffs.order_by(Handoff.created_at.desc()).limit(limit))]
    items.sort(key=lambda i: i.at, reverse=True)
    return items[:limit]
