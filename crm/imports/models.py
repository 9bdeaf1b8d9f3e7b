"""An import of a CSV file, worked through in steps so any web worker can continue it."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, TimestampMixin, checked_enum


class ImportStatus(enum.StrEnum):
    MAPPING = "mapping"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ImportJob(TimestampMixin, Base):
    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    stored_path: Mapped[str] = mapped_column(String(500))
    encoding: Mapped[str] = mapped_column(String(20))
    delimiter: Mapped[str] = mapped_column(String(1))
    headers: Mapped[list] = mapped_column(JSON, default=list)
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)  # column index (as text) -> our field
    status: Mapped[ImportStatus] = mapped_column(checked_enum(ImportStatus, "import_status"), default=ImportStatus.MAPPING)
    rows_read: Mapped[int] = mapped_column(default=0)
    rows_created: Mapped[int] = mapped_column(default=0)
    rows_existing: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    rejects: Mapped[str] = mapped_column(Text, default="")  # CSV text: row number, reason, original cells
    error: Mapped[str] = mapped_column(Text, default="")
    finished_at: Mapped[datetime | None]

    __table_args__ = (CheckConstraint("rows_read >= 0", name="rows_read_non_negative"),)
