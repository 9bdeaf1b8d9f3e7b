"""Indexes the queue needs on other features' tables (kept here so those models stay as their owners wrote them).

Declared with the tables' columns, so they join the metadata (Alembic compares them) when
crm.models imports this module.
"""

from __future__ import annotations

from sqlalchemy import Index, text

from crm.cadences.models import CadenceEnrollment
from crm.tasks.models import Task

# A rep's open follow-ups by due time, with the lead, read from the index alone.
ix_tasks_queue_due = Index("ix_tasks_queue_due", Task.assignee_id, Task.due_at, postgresql_include=["lead_id"],
                           postgresql_where=text("status = 'open'"), sqlite_where=text("status = 'open'"))
# A lead's active enrollment and its due step, read from the index alone.
ix_cadence_enrollments_queue_active = Index(
    "ix_cadence_enrollments_queue_active", CadenceEnrollment.lead_id,
    postgresql_include=["next_step_at", "step_position", "cadence_id"],
    postgresql_where=text("state = 'active'"), sqlite_where=text("state = 'active'"))
