"""Integrations (phone system, chat widget, social inboxes) and the events they send."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.db import Base, TimestampMixin, checked_enum, utcnow


class IntegrationChannel(enum.StrEnum):
    CALLS = "calls"
    CHAT = "chat"
    SOCIAL = "social"


class Integration(TimestampMixin, Base):
    __tablename__ = "integrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    channel: Mapped[IntegrationChannel] = mapped_column(checked_enum(IntegrationChannel, "integration_channel"))
    secret: Mapped[str] = mapped_column(String(128))
    # After a rotation the old secret still verifies until this moment.
    previous_secret: Mapped[str | None] = mapped_column(String(128))
    previous_secret_expires_at: Mapped[datetime | None]
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(default=True)

    team = relationship("Team")


class InboundEvent(Base):
    """Every webhook event we accepted, keyed by the sender's id: redeliveries are no-ops.

    Events that cannot be applied yet (a call's ``ended`` before its ``queued``)
    stay here unprocessed and are applied when their subject appears.
    """

    __tablename__ = "inbound_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(60))  # "sendgrid", or "integration:<id>"
    event_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(60), default="")
    subject_key: Mapped[str | None] = mapped_column(String(200))  # e.g. the call id
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("source", "event_id"),
        Index("ix_inbound_events_subject", "source", "subject_key"),
    )


class ScreenPop(Base):
    """A call answered by a rep: their open pages show the caller's card (crm/integrations/screenpop.py).

    Kept in the database, not in a worker's memory, so the webhook and the rep's
    stream may be served by different gunicorn workers or machines.
    """

    __tablename__ = "screen_pops"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    touch_id: Mapped[int] = mapped_column(ForeignKey("touches.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    touch = relationship("Touch")

    __table_args__ = (Index("ix_screen_pops_user_id_id", "user_id", "id"),)
