"""Users, teams and API tokens."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.db import Base, TimestampMixin, checked_enum


class Role(enum.StrEnum):
    REP = "rep"
    FIELD = "field"
    MANAGER = "manager"
    ADMIN = "admin"


class HandoffRule(enum.StrEnum):
    MANUAL = "manual"
    TERRITORY = "territory"
    ROUND_ROBIN = "round_robin"


class Team(TimestampMixin, Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # New leads wait in the pool for the next free rep instead of round-robin.
    pool_mode: Mapped[bool] = mapped_column(default=False)
    speed_to_lead_seconds: Mapped[int] = mapped_column(default=300)
    handoff_sla_hours: Mapped[int] = mapped_column(default=8)
    handoff_min_criteria: Mapped[int] = mapped_column(default=3)
    handoff_rule: Mapped[HandoffRule] = mapped_column(
        checked_enum(HandoffRule, "handoff_rule"), default=HandoffRule.MANUAL
    )

    members: Mapped[list[User]] = relationship(back_populates="team", foreign_keys="User.team_id")

    __table_args__ = (
        CheckConstraint("speed_to_lead_seconds > 0", name="speed_to_lead_positive"),
        CheckConstraint("handoff_sla_hours > 0", name="handoff_sla_positive"),
        CheckConstraint("handoff_min_criteria BETWEEN 0 AND 4", name="handoff_min_criteria_range"),
    )

    def __repr__(self) -> str:
        return f"<Team {self.id} {self.name}>"


class User(UserMixin, TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(checked_enum(Role, "user_role"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    locale: Mapped[str] = mapped_column(String(10), default="en")
    hourly_cost: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    active: Mapped[bool] = mapped_column(default=True)
    # Most open leads a rep may own before round-robin skips them; None is no cap.
    capacity: Mapped[int | None]
    # ISO country codes a field rep covers, space separated ("PT ES").
    territory: Mapped[str] = mapped_column(String(200), default="")
    calendar_secret: Mapped[str | None] = mapped_column(String(64), unique=True)
    last_assigned_at: Mapped[datetime | None]

    team: Mapped[Team | None] = relationship(back_populates="members", foreign_keys=[team_id])

    __table_args__ = (
        CheckConstraint("hourly_cost >= 0", name="hourly_cost_non_negative"),
        CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity_non_negative"),
        Index("ix_users_team_role_active", "team_id", "role", "active"),
    )

    @property
    def is_active(self) -> bool:  # Flask-Login: deactivated users cannot sign in
        return self.active

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role.value}>"


class ApiToken(Base):
    """A bearer token; only its SHA-256 is kept (tokens are 256 random bits)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
