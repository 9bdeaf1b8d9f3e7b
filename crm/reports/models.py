"""Targets managers set per rep or team and period."""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.db import Base, TimestampMixin, checked_enum


class TargetMetric(enum.StrEnum):
    CALLS = "calls"
    CONNECTS = "connects"
    HANDOFFS = "handoffs"
    WON_COUNT = "won_count"
    WON_VALUE = "won_value"


class Target(TimestampMixin, Base):
    __tablename__ = "targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    metric: Mapped[TargetMetric] = mapped_column(checked_enum(TargetMetric, "target_metric"))
    period_start: Mapped[date]
    period_end: Mapped[date]
    value: Mapped[Decimal] = mapped_column(Numeric(16, 2))

    user = relationship("User")
    team = relationship("Team")

    __table_args__ = (
        CheckConstraint("(user_id IS NULL) != (team_id IS NULL)", name="one_subject"),
        CheckConstraint("period_end >= period_start", name="period_order"),
        CheckConstraint("value >= 0", name="value_non_negative"),
        Index("ix_targets_period", "period_start", "period_end"),
    )
