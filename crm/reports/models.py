"""Targets managers set per rep or team and period."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, Numeric
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


# ---------------------------------------------------------------- activity rollups (crm/reports/rollups.py)
# Derived from touches, never written by hand: a database trigger (migration 0013) notes every change
# of a rep's touch in activity_marks; the activity_rollups job rebuilds what was noted and clears it.


class ActivityFigures:
    """The additive touch figures a rollup row holds (the sums the activity report needs)."""

    touches: Mapped[int] = mapped_column(default=0)
    outbound_calls: Mapped[int] = mapped_column(default=0)
    connects: Mapped[int] = mapped_column(default=0)
    completed_calls: Mapped[int] = mapped_column(default=0)
    talk_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    handle_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    emails: Mapped[int] = mapped_column(default=0)
    chats: Mapped[int] = mapped_column(default=0)
    social: Mapped[int] = mapped_column(default=0)


class ActivityHour(ActivityFigures, Base):
    """One rep's additive touch figures of one UTC hour (``hour`` = seconds since the epoch // 3600)."""

    __tablename__ = "activity_hours"

    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)

    __table_args__ = (Index("ix_activity_hours_user_hour", "user_id", "hour"),)


class ActivityDay(ActivityFigures, Base):
    """The same per UTC day (``day`` = hour // 24): the sums of its 24 ``activity_hours``."""

    __tablename__ = "activity_days"

    day: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)

    __table_args__ = (Index("ix_activity_days_user_day", "user_id", "day"),)


class RepLead(Base):
    """A rep and a lead they touched: their first and last touch, and first and last outbound call."""

    __tablename__ = "rep_leads"

    # Lead first: a rep's pairs are read by time (ix_rep_leads_last_at), and a key led by the rep made
    # PostgreSQL walk the whole table in its order to group by rep.
    lead_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    first_call_at: Mapped[datetime | None]
    last_call_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_rep_leads_last_at", "last_at",
              postgresql_include=["user_id", "lead_id", "first_at", "first_call_at", "last_call_at"]),
        # A team's or a rep's pairs (a manager's report), without reading everyone's.
        Index("ix_rep_leads_user_last_at", "user_id", "last_at",
              postgresql_include=["lead_id", "first_at", "first_call_at", "last_call_at"]),
    )


class ActivityMark(Base):
    """A rep's touch changed at ``hour`` (for ``lead_id``): that hour and that pair are read from the touches
    until the job has rebuilt them."""

    __tablename__ = "activity_marks"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int]
    lead_id: Mapped[int | None]
    hour: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_activity_marks_hour", "hour"),)
