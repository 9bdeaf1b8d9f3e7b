"""Working hours: 08:00–18:00, Monday to Friday, in a team's own time zone.

A hand-off's acceptance limit is counted in these hours, so one handed over on
Friday at 17:00 with an eight-hour limit is due on Monday at 15:00, not on Saturday.
Local days are built with the zone, so a daylight saving change never shifts the window.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from crm.i18n import zone_of

DAY_STARTS = time(8, 0)
DAY_ENDS = time(18, 0)
WORKDAYS = range(0, 5)  # Monday .. Friday


def _windows(start: datetime, zone_name: str):
    """The working windows (UTC start, UTC end) from ``start``'s local day on, clipped to ``start``."""
    zone = zone_of(zone_name)
    day = start.astimezone(zone).date()
    while True:
        if day.weekday() in WORKDAYS:
            opens = datetime.combine(day, DAY_STARTS, tzinfo=zone).astimezone(UTC)
            closes = datetime.combine(day, DAY_ENDS, tzinfo=zone).astimezone(UTC)
            if closes > start:
                yield max(opens, start), closes
        day += timedelta(days=1)


def add_working_hours(start: datetime, hours: float, zone_name: str) -> datetime:
    """The moment ``hours`` working hours after ``start`` have passed (in UTC)."""
    left = timedelta(hours=hours)
    for opens, closes in _windows(start, zone_name):
        if closes - opens >= left:
            return opens + left
        left -= closes - opens
    raise AssertionError("unreachable: the windows never end")


def working_hours_between(start: datetime, end: datetime, zone_name: str) -> float:
    """How many working hours lie between ``start`` and ``end`` (0 when end is before start)."""
    total = timedelta()
    for opens, closes in _windows(start, zone_name):
        if opens >= end:
            break
        total += min(closes, end) - opens
    return total.total_seconds() / 3600
