"""Hand-offs of qualified leads from inside sales to field sales."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.db import Base, TimestampMixin, checked_enum
from crm.leads.models import Lead


class HandoffStatus(enum.StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


OPEN_HANDOFF_STATUSES = (HandoffStatus.AWAITING_APPROVAL, HandoffStatus.PENDING)


REPORT_HANDOFF_COLUMNS = ["from_user_id", "status", "lead_id", "submitted_at", "decided_at"]


class Handoff(TimestampMixin, Base):
    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    from_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    to_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[HandoffStatus] = mapped_column(
        checked_enum(HandoffStatus, "handoff_status"), default=HandoffStatus.PENDING
    )
    budget: Mapped[str] = mapped_column(Text, default="")
    budget_met: Mapped[bool] = mapped_column(default=False)
    authority: Mapped[str] = mapped_column(Text, default="")
    authority_met: Mapped[bool] = mapped_column(default=False)
    need: Mapped[str] = mapped_column(Text, default="")
    need_met: Mapped[bool] = mapped_column(default=False)
    timeline: Mapped[str] = mapped_column(Text, default="")
    timeline_met: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str] = mapped_column(Text, default="")
    proposed_meeting_at: Mapped[datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime | None]  # when it reached the field rep (after any approval)
    decided_at: Mapped[datetime | None]
    rejection_reason: Mapped[str] = mapped_column(Text, default="")
    sla_flagged_at: Mapped[datetime | None]

    lead: Mapped[Lead] = relationship()
    from_user: Mapped[User | None] = relationship(foreign_keys=[from_user_id])
    to_user: Mapped[User | None] = relationship(foreign_keys=[to_user_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])

    __table_args__ = (
        # One open hand-off per lead, enforced by the database (two clicks at once).
        Index("uq_handoffs_one_open_per_lead", "lead_id", unique=True,
              postgresql_where=text("status IN ('awaiting_approval', 'pending')"),
              sqlite_where=text("status IN ('awaiting_approval', 'pending')")),
        Index("ix_handoffs_to_user_status", "to_user_id", "status"),
        Index("ix_handoffs_lead_id", "lead_id"),
        Index("ix_handoffs_from_user_created_at", "from_user_id", "created_at"),
        # The rep-activity report's hand-offs of a period (covering on PostgreSQL).
        Index("ix_handoffs_created_at", "created_at", postgresql_include=REPORT_HANDOFF_COLUMNS),
    )

    @property
    def criteria_met(self) -> int:
        return sum([self.budget_met, self.authority_met, self.need_met, self.timeline_met])
