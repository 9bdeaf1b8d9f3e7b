"""Report periods and filters: local days in the viewer's zone, as half-open UTC intervals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from crm.i18n import zone_of
from crm.touches.models import Channel

DEFAULT_DAYS = 30
MAX_DAYS = 731


@dataclass(frozen=True)
class Period:
    """The local days ``first_day`` … ``last_day`` (both included) in ``zone``."""

    first_day: date
    last_day: date
    zone: str

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(0), tzinfo=zone_of(self.zone)).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time(0), tzinfo=zone_of(self.zone)).astimezone(UTC)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def previous(self) -> Period:
        """The same number of days just before this period."""
        return Period(self.first_day - timedelta(days=self.days), self.first_day - timedelta(days=1), self.zone)

    def as_dict(self) -> dict:
        return {"date_from": self.first_day.isoformat(), "date_to": self.last_day.isoformat(), "time_zone": self.zone}


def default_period(now: datetime, zone: str, days: int = DEFAULT_DAYS) -> Period:
    today = now.astimezone(zone_of(zone)).date()
    return Period(today - timedelta(days=days - 1), today, zone)


class ReportQuery(BaseModel):
    """The filters every report takes (page form, API query and CSV link alike)."""

    model_config = ConfigDict(extra="forbid")

    date_from: date | None = Field(None, description="First day, in your time zone (default: 29 days before date_to)")
    date_to: date | None = Field(None, description="Last day, included (default: today)")
    team_id: int | None = Field(None, ge=1)
    rep_id: int | None = Field(None, ge=1)
    source_id: int | None = Field(None, ge=1)
    campaign_id: int | None = Field(None, ge=1)
    channel: Channel | None = None

    @field_validator("date_to")
    @classmethod
    def _order(cls, value: date | None, info: ValidationInfo):
        first = info.data.get("date_from")
        if value is not None and first is not None:
            if value < first:
                raise ValueError("must be on or after date_from")
            if (value - first).days + 1 > MAX_DAYS:
                raise ValueError(f"a report covers at most {MAX_DAYS} days")
        return value

    def period(self, now: datetime, zone: str) -> Period:
        if self.date_from is None and self.date_to is None:
            return default_period(now, zone)
        last = self.date_to or min(self.date_from + timedelta(days=DEFAULT_DAYS - 1),
                                   now.astimezone(zone_of(zone)).date())
        last = max(last, self.date_from) if self.date_from else last
        first = self.date_from or last - timedelta(days=DEFAULT_DAYS - 1)
        return Period(first, last, zone)


@dataclass(frozen=True)
class Criteria:
    """What one report covers: a period (and its previous one), the scope and the filters."""

    period: Period
    team_id: int | None = None
    rep_id: int | None = None
    source_id: int | None = None
    campaign_id: int | None = None
    channel: Channel | None = None

    @property
    def previous(self) -> Period:
        return self.period.previous

    @property
    def span_start(self) -> datetime:
        return self.previous.start

    @property
    def current_start(self) -> datetime:
        return self.period.start

    @property
    def end(self) -> datetime:
        return self.period.end
