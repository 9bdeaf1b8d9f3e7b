"""A record of every job run, and admin-editable settings the jobs read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, utcnow


class JobRun(Base):
    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_name: Mapped[str] = mapped_column(String(60))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    items: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_job_runs_job_name_started_at", "job_name", "started_at"),)


class Setting(Base):
    """A named setting admins change at run time (retention offsets, SLA thresholds)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[dict | list | int | str] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
