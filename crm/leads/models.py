"""Leads, their stage history, and where they come from (sources, campaigns)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import Team, User
from crm.contacts.models import Contact
from crm.db import Base, TimestampMixin, checked_enum, utcnow


class Stage(enum.StrEnum):
    DISCOVER = "discover"
    NURTURE = "nurture"
    PROPOSE = "propose"
    CLOSE = "close"


STAGE_ORDER = [Stage.DISCOVER, Stage.NURTURE, Stage.PROPOSE, Stage.CLOSE]


class LeadStatus(enum.StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class Source(TimestampMixin, Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    spend: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")

    __table_args__ = (
        CheckConstraint("spend >= 0", name="spend_non_negative"),
        CheckConstraint("length(currency) = 3", name="currency_iso"),
    )


class Campaign(TimestampMixin, Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160), unique=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    cadence_id: Mapped[int | None] = mapped_column(ForeignKey("cadences.id", ondelete="SET NULL"))
    spend: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    call_script: Mapped[str] = mapped_column(Text, default="")
    starts_on: Mapped[date | None]
    ends_on: Mapped[date | None]
    active: Mapped[bool] = mapped_column(default=True)

    team: Mapped[Team | None] = relationship()

    __table_args__ = (
        CheckConstraint("spend >= 0", name="spend_non_negative"),
        CheckConstraint("length(currency) = 3", name="currency_iso"),
    )


class LostReason(Base):
    """Why a lead was lost; admins edit the list, retired reasons stay for history."""

    __tablename__ = "lost_reasons"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(120), unique=True)
    active: Mapped[bool] = mapped_column(default=True)


REPORT_LEAD_COLUMNS = ["team_id", "owner_id", "status", "value", "source_id", "campaign_id", "first_touch_at",
                       "lost_reason_id", "furthest_stage"]
# The funnel reads a stage stay from its own row (docs/metrics.md, Funnel): which cohort, which stage, how long.
REPORT_STAY_COLUMNS = ["lead_id", "to_stage", "changed_at", "ended_at"]
ENDED_STAY = "to_status = 'open' AND ended_at IS NOT NULL"
# What the queue reads of a rep's open leads, kept in its index so PostgreSQL need not visit the table.
QUEUE_COVERED = ("id", "contact_id", "claimed_by_id", "claim_expires_at", "next_action_at", "last_touch_at",
                 "created_at")


class Lead(TimestampMixin, Base):
    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(200), default="")
    stage: Mapped[Stage] = mapped_column(checked_enum(Stage, "lead_stage"), default=Stage.DISCOVER)
    status: Mapped[LeadStatus] = mapped_column(checked_enum(LeadStatus, "lead_status"), default=LeadStatus.OPEN)
    lost_reason_id: Mapped[int | None] = mapped_column(ForeignKey("lost_reasons.id", ondelete="RESTRICT"))
    lost_note: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    field_owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    value: Mapped[Decimal | None]
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    score: Mapped[int] = mapped_column(default=0)
    next_action_at: Mapped[datetime | None]
    stage_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    # Speed-to-lead: the first outbound touch, and whether the wait was flagged.
    first_touch_at: Mapped[datetime | None]
    speed_to_lead_flagged_at: Mapped[datetime | None]
    last_touch_at: Mapped[datetime | None]
    # The furthest stage any of its stage changes entered (kept by a database trigger, migration 0013).
    furthest_stage: Mapped[Stage | None] = mapped_column(checked_enum(Stage, "furthest_stage"))
    # The queue's lease: who is working the lead now, and until when.
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    claim_expires_at: Mapped[datetime | None]

    contact: Mapped[Contact] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    field_owner: Mapped[User | None] = relationship(foreign_keys=[field_owner_id])
    claimed_by: Mapped[User | None] = relationship(foreign_keys=[claimed_by_id])
    team: Mapped[Team | None] = relationship()
    source: Mapped[Source | None] = relationship()
    campaign: Mapped[Campaign | None] = relationship()
    lost_reason: Mapped[LostReason | None] = relationship()
    stage_changes: Mapped[list[StageChange]] = relationship(
        back_populates="lead", order_by="StageChange.changed_at", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint("value IS NULL OR value >= 0", name="value_non_negative"),
        CheckConstraint("length(currency) = 3", name="currency_iso"),
        CheckConstraint("status != 'lost' OR lost_reason_id IS NOT NULL", name="lost_needs_reason"),
        CheckConstraint("status != 'won' OR value IS NOT NULL", name="won_needs_value"),
        Index("ix_leads_owner_status_next_action", "owner_id", "status", "next_action_at"),
        Index("ix_leads_team_pool", "team_id", "created_at", postgresql_where=text("owner_id IS NULL AND status = 'open'"),
              sqlite_where=text("owner_id IS NULL AND status = 'open'")),
        Index("ix_leads_field_owner", "field_owner_id"),
        Index("ix_leads_contact", "contact_id"),
        # The funnel reads leads by creation time (and team) with index-only scans on PostgreSQL.
        Index("ix_leads_created_at", "created_at", postgresql_include=REPORT_LEAD_COLUMNS),
        Index("ix_leads_team_created_at", "team_id", "created_at", postgresql_include=REPORT_LEAD_COLUMNS),
        Index("ix_leads_campaign", "campaign_id"),
        # The won leads (a hand-off's won rate asks which of its leads are won).
        Index("ix_leads_won", "id", postgresql_where=text("status = 'won'"), sqlite_where=text("status = 'won'")),
        Index("ix_leads_source", "source_id"),
        # Only held leads (migration 0012): a lead let go writes no entry here.
        Index("ix_leads_claim", "claimed_by_id", "claim_expires_at", postgresql_where=text("claimed_by_id IS NOT NULL"),
              sqlite_where=text("claimed_by_id IS NOT NULL")),
        # The queue (crm/queue): a rep's untouched leads, their open leads by score, and speed-to-lead's wait list.
        Index("ix_leads_owner_untouched", "owner_id", "created_at",
              postgresql_where=text("first_touch_at IS NULL AND status = 'open'"),
              sqlite_where=text("first_touch_at IS NULL AND status = 'open'")),
        Index("ix_leads_owner_open_score", "owner_id", "score", postgresql_where=text("status = 'open'"),
              sqlite_where=text("status = 'open'"), postgresql_include=list(QUEUE_COVERED)),
        Index("ix_leads_speed_to_lead_waiting", "created_at",
              postgresql_where=text("first_touch_at IS NULL AND speed_to_lead_flagged_at IS NULL AND status = 'open'"),
              sqlite_where=text("first_touch_at IS NULL AND speed_to_lead_flagged_at IS NULL AND status = 'open'")),
    )

    @property
    def is_open(self) -> bool:
        return self.status == LeadStatus.OPEN

    def __repr__(self) -> str:
        return f"<Lead {self.id} {self.stage.value}/{self.status.value}>"


class StageChange(Base):
    """One move of a lead: stage and/or status, who made it and when."""

    __tablename__ = "stage_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    from_stage: Mapped[Stage | None] = mapped_column(checked_enum(Stage, "from_stage"))
    to_stage: Mapped[Stage] = mapped_column(checked_enum(Stage, "to_stage"))
    from_status: Mapped[LeadStatus | None] = mapped_column(checked_enum(LeadStatus, "from_status"))
    to_status: Mapped[LeadStatus] = mapped_column(checked_enum(LeadStatus, "to_status"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")
    # Kept by database triggers (migration 0013) for the funnel: when the stay this change opened
    # ended (the lead's next change), and when its lead was created (the cohort).
    ended_at: Mapped[datetime | None]
    lead_created_at: Mapped[datetime | None]

    lead: Mapped[Lead] = relationship(back_populates="stage_changes")
    changed_by: Mapped[User | None] = relationship()

    __table_args__ = (
        Index("ix_stage_changes_lead_changed_at", "lead_id", "changed_at", postgresql_include=["to_stage", "to_status"]),
        Index("ix_stage_changes_to_stage_changed_at", "to_stage", "changed_at"),
        Index("ix_stage_changes_ended_stays", "lead_created_at", postgresql_include=REPORT_STAY_COLUMNS,
              postgresql_where=text(ENDED_STAY), sqlite_where=text(ENDED_STAY)),
    )

