"""Cadences: named sequences of steps, and where each lead stands in one."""

from __future__ import annotations

import enum
from datetime import datetime, time

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.db import Base, TimestampMixin, checked_enum
from crm.leads.models import Lead
from crm.touches.models import Channel


class Cadence(TimestampMixin, Base):
    __tablename__ = "cadences"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    is_default: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)

    steps: Mapped[list[CadenceStep]] = relationship(
        back_populates="cadence", order_by="CadenceStep.position", cascade="all, delete-orphan"
    )


class CadenceStep(Base):
    __tablename__ = "cadence_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    cadence_id: Mapped[int] = mapped_column(ForeignKey("cadences.id", ondelete="CASCADE"))
    position: Mapped[int]
    day_offset: Mapped[int] = mapped_column(default=0)
    # Preferred local time window in the contact's zone (spreads calls over the day).
    window_start: Mapped[time] = mapped_column(default=time(9, 0))
    window_end: Mapped[time] = mapped_column(default=time(12, 0))
    channel: Mapped[Channel] = mapped_column(checked_enum(Channel, "step_channel"))
    template_key: Mapped[str | None] = mapped_column(String(80))
    # The practice's follow-up email goes only to a lead never reached.
    only_if_unreached: Mapped[bool] = mapped_column(default=False)

    cadence: Mapped[Cadence] = relationship(back_populates="steps")

    __table_args__ = (
        UniqueConstraint("cadence_id", "position"),
        CheckConstraint("day_offset >= 0", name="day_offset_non_negative"),
        CheckConstraint("position >= 0", name="position_non_negative"),
    )


class EnrollmentState(enum.StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    STOPPED = "stopped"


class CadenceEnrollment(TimestampMixin, Base):
    """A lead's place in its cadence: the next step and when it is due."""

    __tablename__ = "cadence_enrollments"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), unique=True)
    cadence_id: Mapped[int] = mapped_column(ForeignKey("cadences.id", ondelete="CASCADE"))
    step_position: Mapped[int] = mapped_column(default=0)
    next_step_at: Mapped[datetime | None]
    state: Mapped[EnrollmentState] = mapped_column(
        checked_enum(EnrollmentState, "enrollment_state"), default=EnrollmentState.ACTIVE
    )
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    ended_reason: Mapped[str] = mapped_column(String(120), default="")

    lead: Mapped[Lead] = relationship()
    cadence: Mapped[Cadence] = relationship()

    __table_args__ = (Index("ix_cadence_enrollments_state_next_step_at", "state", "next_step_at"),)
