"""Tasks: dated follow-ups for a lead or contact, with who must do them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.contacts.models import Contact
from crm.db import Base, TimestampMixin, checked_enum
from crm.leads.models import Lead


class TaskKind(enum.StrEnum):
    CALL = "call"
    EMAIL = "email"
    FOLLOW_UP = "follow_up"
    RETENTION_CALLBACK = "retention_callback"
    HANDOFF_REVIEW = "handoff_review"


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class Task(TimestampMixin, Base):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[TaskKind] = mapped_column(checked_enum(TaskKind, "task_kind"), default=TaskKind.FOLLOW_UP)
    title: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    due_at: Mapped[datetime]
    status: Mapped[TaskStatus] = mapped_column(checked_enum(TaskStatus, "task_status"), default=TaskStatus.OPEN)
    completed_at: Mapped[datetime | None]
    # What made it: "manual", "cadence", "retention", "handoff", "inbound_reply", "recycle" …
    origin: Mapped[str] = mapped_column(String(40), default="manual")
    # Jobs set a key per thing they create, so a rerun can never create it twice.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)

    lead: Mapped[Lead | None] = relationship()
    contact: Mapped[Contact | None] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    __table_args__ = (
        CheckConstraint("lead_id IS NOT NULL OR contact_id IS NOT NULL", name="has_subject"),
        Index("ix_tasks_assignee_status_due_at", "assignee_id", "status", "due_at"),
    )
