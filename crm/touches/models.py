"""Touches: every interaction with a contact, on any channel, and CSAT surveys."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.contacts.models import Contact
from crm.db import Base, checked_enum, utcnow
from crm.leads.models import Campaign, Lead


class Channel(enum.StrEnum):
    CALL = "call"
    EMAIL = "email"
    CHAT = "chat"
    SOCIAL = "social"
    SMS = "sms"
    MEETING = "meeting"


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Outcome(enum.StrEnum):
    # calls
    QUEUED = "queued"
    CONNECTED = "connected"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    VOICEMAIL = "voicemail"
    WRONG_NUMBER = "wrong_number"
    ABANDONED = "abandoned"
    # messages
    SENT = "sent"
    DELIVERED = "delivered"
    DEFERRED = "deferred"
    OPENED = "opened"
    CLICKED = "clicked"
    REPLIED = "replied"
    BOUNCED = "bounced"
    DROPPED = "dropped"
    SPAM = "spam"
    UNSUBSCRIBED = "unsubscribed"
    FAILED = "failed"
    RECEIVED = "received"
    # meetings
    HELD = "held"
    NO_SHOW = "no_show"


CHANNEL_OUTCOMES: dict[Channel, frozenset[Outcome]] = {
    Channel.CALL: frozenset({Outcome.QUEUED, Outcome.CONNECTED, Outcome.NO_ANSWER, Outcome.BUSY,
                             Outcome.VOICEMAIL, Outcome.WRONG_NUMBER, Outcome.ABANDONED}),
    Channel.EMAIL: frozenset({Outcome.SENT, Outcome.DELIVERED, Outcome.DEFERRED, Outcome.OPENED, Outcome.CLICKED,
                              Outcome.REPLIED, Outcome.BOUNCED, Outcome.DROPPED, Outcome.SPAM,
                              Outcome.UNSUBSCRIBED, Outcome.FAILED, Outcome.RECEIVED}),
    Channel.CHAT: frozenset({Outcome.SENT, Outcome.DELIVERED, Outcome.RECEIVED, Outcome.REPLIED, Outcome.FAILED}),
    Channel.SOCIAL: frozenset({Outcome.SENT, Outcome.DELIVERED, Outcome.RECEIVED, Outcome.REPLIED, Outcome.FAILED}),
    Channel.SMS: frozenset({Outcome.SENT, Outcome.DELIVERED, Outcome.RECEIVED, Outcome.REPLIED, Outcome.FAILED}),
    Channel.MEETING: frozenset({Outcome.HELD, Outcome.NO_SHOW}),
}

# A lead counts as reached once one of these happens on any channel.
REACHED_OUTCOMES = frozenset({Outcome.CONNECTED, Outcome.REPLIED, Outcome.HELD})


REPORT_USER_COLUMNS = ["channel", "direction", "outcome", "lead_id", "campaign_id", "talk_seconds", "hold_seconds",
                       "wrap_seconds"]
REPORT_CHANNEL_COLUMNS = ["outcome", "user_id", "lead_id", "campaign_id", "queue_seconds", "talk_seconds",
                          "hold_seconds", "wrap_seconds", "answered_at"]


class Touch(Base):
    __tablename__ = "touches"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    channel: Mapped[Channel] = mapped_column(checked_enum(Channel, "touch_channel"))
    direction: Mapped[Direction] = mapped_column(checked_enum(Direction, "touch_direction"))
    outcome: Mapped[Outcome | None] = mapped_column(checked_enum(Outcome, "touch_outcome"))
    # When it happened (the timeline's order); for calls also the ACD's times.
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    queue_seconds: Mapped[int] = mapped_column(default=0)
    talk_seconds: Mapped[int] = mapped_column(default=0)
    hold_seconds: Mapped[int] = mapped_column(default=0)
    wrap_seconds: Mapped[int] = mapped_column(default=0)
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    ani: Mapped[str | None] = mapped_column(String(32))
    dnis: Mapped[str | None] = mapped_column(String(32))
    recording_url: Mapped[str | None] = mapped_column(String(500))
    # Where it came from; a provider's id is unique, so a redelivery is one touch.
    provider: Mapped[str] = mapped_column(String(40), default="touchline")
    external_id: Mapped[str | None] = mapped_column(String(200))
    conversation_id: Mapped[str | None] = mapped_column(String(200))
    platform: Mapped[str | None] = mapped_column(String(40))
    handle: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    contact: Mapped[Contact] = relationship()
    lead: Mapped[Lead | None] = relationship()
    user: Mapped[User | None] = relationship()
    campaign: Mapped[Campaign | None] = relationship()

    __table_args__ = (
        UniqueConstraint("provider", "external_id"),
        CheckConstraint("queue_seconds >= 0", name="queue_seconds_non_negative"),
        CheckConstraint("talk_seconds >= 0", name="talk_seconds_non_negative"),
        CheckConstraint("hold_seconds >= 0", name="hold_seconds_non_negative"),
        CheckConstraint("wrap_seconds >= 0", name="wrap_seconds_non_negative"),
        Index("ix_touches_contact_occurred_at", "contact_id", "occurred_at"),
        Index("ix_touches_lead_occurred_at", "lead_id", "occurred_at"),
        # The reports read these two with index-only scans on PostgreSQL (see docs/reports.md).
        Index("ix_touches_user_occurred_at", "user_id", "occurred_at", postgresql_include=REPORT_USER_COLUMNS),
        Index("ix_touches_channel_occurred_at", "channel", "direction", "occurred_at",
              postgresql_include=REPORT_CHANNEL_COLUMNS),
        Index("ix_touches_conversation", "provider", "conversation_id"),
        # Every rep's touches of one hour: the activity rollups (crm/reports/rollups.py) rebuild by it.
        Index("ix_touches_occurred_at", "occurred_at"),
    )

    @property
    def handle_seconds(self) -> int:
        return self.talk_seconds + self.hold_seconds + self.wrap_seconds


class Survey(Base):
    """A CSAT survey (score 1–5) sent after a touch; answered through its token."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    touch_id: Mapped[int] = mapped_column(ForeignKey("touches.id", ondelete="CASCADE"), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(index=True)
    score: Mapped[int | None]
    comment: Mapped[str] = mapped_column(Text, default="")

    touch: Mapped[Touch] = relationship()

    __table_args__ = (CheckConstraint("score IS NULL OR score BETWEEN 1 AND 5", name="score_range"),)
