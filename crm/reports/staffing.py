"""The staffing planner's inputs: one interval given by hand, or a day forecast from history.

The forecast takes, for each 30-minute interval of a local day, the average number of
inbound calls offered in that interval on the same weekday over the previous N weeks
(docs/metrics.md, Staffing planner), and plans each interval with Erlang C.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import Integer

from crm.extensions import db
from crm.i18n import zone_of
from crm.reports.erlang import StaffingPlan, plan
from crm.reports.service import touch_team
from crm.reports.sql import for_reports
from crm.touches.models import Channel, Direction, Outcome, Touch

INTERVAL_MINUTES = 30
DEFAULT_AHT_SECONDS = 180


class interval_index(FunctionElement):  # noqa: N801
    """floor((column − start) / seconds): which interval of a day a timestamp falls in."""

    type = Integer()
    inherit_cache = True
    name = "interval_index"


@compiles(interval_index)
def _interval_index_pg(element, compiler, **kw):
    start, column, seconds = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM ({column} - {start})) / {seconds}) AS INTEGER)"


@compiles(interval_index, "sqlite")
def _interval_index_sqlite(element, compiler, **kw):
    start, column, seconds = (compiler.process(c, **kw) for c in element.clauses)
    return (f"((CAST(strftime('%s', {column}) AS INTEGER) - CAST(strftime('%s', {start}) AS INTEGER)) "
            f"/ {seconds})")


@dataclass(frozen=True)
class IntervalPlan:
    starts_at: datetime  # local
    calls: float
    plan: StaffingPlan


def _local_midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone_of(zone)).astimezone(UTC)


def forecast(*, day: date, weeks: int, zone: str, team_id: int | None, aht_seconds: float | None,
             answer_within_seconds: float, target_service_level: float, shrinkage: float,
             max_occupancy: float | None) -> list[IntervalPlan]:
    """One plan per 30-minute interval of ``day`` (local), from the same weekday of the last ``weeks``."""
    for_reports(db.session)
    counts: dict[int, int] = {}
    handle = answered = 0
    for back in range(1, weeks + 1):
        past = day - timedelta(weeks=back)
        start, end = _local_midnight(past, zone), _local_midnight(past + timedelta(days=1), zone)
        conds = [Touch.channel == Channel.CALL, Touch.direction == Direction.INBOUND,
                 Touch.occurred_at >= start, Touch.occurred_at < end,
                 Touch.outcome.is_not(None), Touch.outcome != Outcome.QUEUED]
        if team_id is not None:
            conds.append(touch_team(team_id, by_rep=False))
        bucket = interval_index(start, Touch.occurred_at, INTERVAL_MINUTES * 60)
        was_answered = and_(Touch.outcome == Outcome.CONNECTED)
        rows = db.session.execute(
            select(bucket.label("slot"), func.count(),
                   func.coalesce(func.sum(case((was_answered, Touch.talk_seconds + Touch.hold_seconds
                                                + Touch.wrap_seconds), else_=0)), 0),
                   func.coalesce(func.sum(case((was_answered, 1), else_=0)), 0))
            .where(*conds).group_by(bucket))
        for slot, n, seconds, answered_n in rows:
            counts[int(slot)] = counts.get(int(slot), 0) + int(n)
            handle += int(seconds)
            answered += int(answered_n)
    aht = aht_seconds or (handle / answered if answered else DEFAULT_AHT_SECONDS)
    day_start = _local_midnight(day, zone)
    slots = int((_local_midnight(day + timedelta(days=1), zone) - day_start).total_seconds() // (INTERVAL_MINUTES * 60))
    out = []
    for slot in range(slots):
        calls = counts.get(slot, 0) / weeks
        out.append(IntervalPlan(
            (day_start + timedelta(minutes=INTERVAL_MINUTES * slot)).astimezone(zone_of(zone)), calls,
            plan(calls=calls, interval_minutes=INTERVAL_MINUTES, aht_seconds=aht,
                 answer_within_seconds=answer_within_seconds, target_service_level=target_service_level,
                 shrinkage=shrinkage, max_occupancy=max_occupancy)))
    return out
