"""Rep-activity rollups: the touch figures of a period without reading every touch of it.

Two derived tables, both rebuilt from the touches (never edited by hand):

- ``activity_hours``: per rep and UTC hour, the additive figures (counts and sums of seconds), and
  ``activity_days`` the same per UTC day (the sums of its hours);
- ``rep_leads``: per rep and lead, the first and last touch and the first and last outbound call,
  from which "distinct leads worked / called in a period" follows (``active`` below).

A trigger on touches (migration 0013) writes an ``activity_marks`` row for every change of a rep's
touch: its UTC hour and its rep-lead pair, before and after the change. Until the activity_rollups
job has rebuilt a marked hour or pair (and deleted the marks it read), reports read that hour and
that pair from the touches themselves; so a touch logged or changed a second ago counts, however
old its time. Period edges that are not on the hour (zones at :30 and :45, 23- and 25-hour days
are still whole hours in UTC) are read from the touches too. docs/metrics.md has the whole rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import and_, case, delete, exists, false, func, insert, or_, select, text, tuple_, union_all

from crm.extensions import db
from crm.reports.models import ActivityDay, ActivityHour, ActivityMark, RepLead
from crm.reports.sql import epoch_hour
from crm.touches.models import Channel, Direction, Outcome, Touch

HOUR = 3600
DAY_HOURS = 24
# Hours and pairs rebuilt per statement, and marks read per run (a bulk import drains over several runs).
CHUNK = 500
MARKS_PER_RUN = 100_000
ADDITIVE = ("outbound_calls", "connects", "completed_calls", "talk_seconds", "handle_seconds", "emails", "chats",
            "social")


def outbound_call():
    return and_(Touch.channel == Channel.CALL, Touch.direction == Direction.OUTBOUND)


def touch_figures() -> dict:
    """What one touch adds to each additive figure (docs/metrics.md, Rep activity)."""
    outbound = Touch.direction == Direction.OUTBOUND
    completed = and_(Touch.channel == Channel.CALL, Touch.outcome == Outcome.CONNECTED)

    def one_if(condition, value=1):
        return case((condition, value), else_=0)

    return {
        "outbound_calls": one_if(outbound_call()),
        "connects": one_if(and_(outbound_call(), Touch.outcome == Outcome.CONNECTED)),
        "completed_calls": one_if(completed),
        "talk_seconds": one_if(completed, Touch.talk_seconds),
        "handle_seconds": one_if(completed, Touch.talk_seconds + Touch.hold_seconds + Touch.wrap_seconds),
        "emails": one_if(and_(Touch.channel == Channel.EMAIL, outbound)),
        "chats": one_if(and_(Touch.channel == Channel.CHAT, outbound)),
        "social": one_if(and_(Touch.channel == Channel.SOCIAL, outbound)),
    }


def hour_of(moment: datetime) -> int:
    return math.floor(moment.timestamp() / HOUR)


def hour_start(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * HOUR, UTC)


def _merged(ranges: list[tuple]) -> list[tuple]:
    out: list[tuple] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


@dataclass
class Split:
    """A stretch of time as rolled-up UTC days ``[d0, d1)`` and hours ``[h0, h1)``, and stretches
    ``[t0, t1)`` read from the touches."""

    hours: list[tuple[int, int]] = field(default_factory=list)
    raw: list[tuple[datetime, datetime]] = field(default_factory=list)
    days: list[tuple[int, int]] = field(default_factory=list)

    def add(self, start: datetime, end: datetime, marked: set[int]) -> None:
        first, last = math.ceil(start.timestamp() / HOUR), hour_of(end)
        if first >= last:
            self.raw.append((start, end))
            return
        if hour_start(first) > start:
            self.raw.append((start, hour_start(first)))
        if hour_start(last) < end:
            self.raw.append((hour_start(last), end))
        cursor = first
        for hour in sorted(h for h in marked if first <= h < last):
            if hour > cursor:
                self.hours.append((cursor, hour))
            self.raw.append((hour_start(hour), hour_start(hour + 1)))
            cursor = hour + 1
        if cursor < last:
            self.hours.append((cursor, last))

    def merged(self) -> Split:
        """Adjacent pieces joined, and the whole days of the hours read as days."""
        hours, days = [], []
        for h0, h1 in _merged(self.hours):
            d0, d1 = -(-h0 // DAY_HOURS), h1 // DAY_HOURS
            if d0 >= d1:
                hours.append((h0, h1))
                continue
            days.append((d0, d1))
            hours += [r for r in ((h0, d0 * DAY_HOURS), (d1 * DAY_HOURS, h1)) if r[0] < r[1]]
        return Split(hours, _merged(self.raw), days)


def split_span(span_start: datetime, current_start: datetime, end: datetime) -> Split:
    """The previous period ``[span_start, current_start)`` and the current one ``[current_start, end)``
    as rolled-up hours and raw stretches, none crossing ``current_start``."""
    marked = set(db.session.scalars(select(ActivityMark.hour).distinct().where(
        ActivityMark.hour >= hour_of(span_start), ActivityMark.hour <= hour_of(end))))
    split = Split()
    split.add(span_start, current_start, marked)
    split.add(current_start, end, marked)
    return split.merged()


def _within(column, ranges) -> list:
    return [or_(*(and_(column >= lo, column < hi) for lo, hi in ranges))] if ranges else [false()]


def activity_sums(split: Split, current_start: datetime, user_conditions) -> select:
    """rep_id, cur, and each additive figure, from the rolled-up hours plus the raw stretches.

    ``user_conditions(column)`` narrows a rep column to the report's scope."""
    h, d = ActivityHour, ActivityDay
    cur_hour = math.ceil(current_start.timestamp() / HOUR)
    # No day or hour read here straddles current_start (split_span splits there).
    days = select(d.user_id.label("rep_id"), case((d.day * DAY_HOURS >= cur_hour, 1), else_=0).label("cur"),
                  *(getattr(d, name).label(name) for name in ADDITIVE)).where(
        *_within(d.day, split.days), *user_conditions(d.user_id))
    hours = select(h.user_id.label("rep_id"), case((h.hour >= cur_hour, 1), else_=0).label("cur"),
                   *(getattr(h, name).label(name) for name in ADDITIVE)).where(
        *_within(h.hour, split.hours), *user_conditions(h.user_id))
    tcur = case((Touch.occurred_at >= current_start, 1), else_=0)
    figures = touch_figures()
    raw = (select(Touch.user_id.label("rep_id"), tcur.label("cur"),
                  *(func.sum(figures[name]).label(name) for name in ADDITIVE))
           .where(*_within(Touch.occurred_at, split.raw), Touch.user_id.is_not(None), *user_conditions(Touch.user_id))
           .group_by(Touch.user_id, tcur))
    both = days.union_all(hours, raw).subquery("rolled_and_raw")
    return (select(both.c.rep_id, both.c.cur, *(func.sum(getattr(both.c, name)).label(name) for name in ADDITIVE))
            .group_by(both.c.rep_id, both.c.cur))


def active(first, last, start: datetime, end: datetime, *, calls: bool):
    """The pair has a touch (an outbound call) in ``[start, end)``: its first or last one falls there,
    or it spans the period and one of its touches falls inside."""
    touched = [Touch.user_id == RepLead.user_id, Touch.lead_id == RepLead.lead_id, Touch.occurred_at >= start,
               Touch.occurred_at < end, *([outbound_call()] if calls else [])]
    return and_(first < end, last >= start,
                or_(first >= start, last < end, exists().where(*touched)))


def _marked_pairs():
    return select(ActivityMark.user_id, ActivityMark.lead_id).where(ActivityMark.lead_id.is_not(None))


LEAD_COUNTS = ("leads_worked_0", "leads_called_0", "leads_worked_1", "leads_called_1")


def _pair_counts(span_start: datetime, current_start: datetime, end: datetime, user_conditions, *,
                 marked: bool) -> select:
    """Per rep, leads worked and called in each period (suffix _0 previous, _1 current) over the rep-lead
    pairs' rows: every pair, or with ``marked`` only the marked ones."""
    p = RepLead
    periods = {0: (span_start, current_start), 1: (current_start, end)}
    cols = []
    for cur, (start, stop) in periods.items():
        cols.append(func.sum(case((active(p.first_at, p.last_at, start, stop, calls=False), 1), else_=0))
                    .label(f"leads_worked_{cur}"))
        cols.append(func.sum(case((active(p.first_call_at, p.last_call_at, start, stop, calls=True), 1), else_=0))
                    .label(f"leads_called_{cur}"))
    conds = [p.last_at >= span_start, p.first_at < end, *user_conditions(p.user_id)]
    if marked:
        conds.append(tuple_(p.user_id, p.lead_id).in_(_marked_pairs()))
    sign = -1 if marked else 1
    return select(p.user_id.label("rep_id"), *(col * sign for col in cols)).where(*conds).group_by(p.user_id)


def _marked_pair_counts(span_start: datetime, current_start: datetime, end: datetime, user_conditions) -> select:
    """The same over the marked pairs, from their touches."""
    previous = and_(Touch.occurred_at >= span_start, Touch.occurred_at < current_start)
    current = and_(Touch.occurred_at >= current_start, Touch.occurred_at < end)
    cols = [func.count(case((when, Touch.lead_id)).distinct())
            for period in (previous, current) for when in (period, and_(period, outbound_call()))]
    return (select(Touch.user_id.label("rep_id"), *cols)
            .where(tuple_(Touch.user_id, Touch.lead_id).in_(_marked_pairs()), Touch.occurred_at >= span_start,
                   Touch.occurred_at < end, *user_conditions(Touch.user_id))
            .group_by(Touch.user_id))


def distinct_leads(span_start: datetime, current_start: datetime, end: datetime, user_conditions) -> select:
    """Per rep: leads worked and leads called in each period (``LEAD_COUNTS``).

    Every pair's row counts, less the marked pairs' rows (which may be out of date), plus the marked
    pairs counted from their touches: one statement, so all three parts see the same moment even when
    the job commits meanwhile."""
    span = (span_start, current_start, end, user_conditions)
    parts = union_all(_pair_counts(*span, marked=False), _pair_counts(*span, marked=True),
                      _marked_pair_counts(*span)).subquery("pair_parts")
    return (select(parts.c[0].label("rep_id"), *(func.sum(c).label(name) for c, name in zip(
        list(parts.c)[1:], LEAD_COUNTS, strict=True))).group_by(parts.c[0]))


# ---------------------------------------------------------------- keeping them current

def _hour_rows(where) -> select:
    hour = epoch_hour(Touch.occurred_at)
    figures = touch_figures()
    return (select(hour.label("hour"), Touch.user_id, func.count().label("touches"),
                   *(func.sum(figures[name]).label(name) for name in ADDITIVE))
            .where(Touch.user_id.is_not(None), *where).group_by(hour, Touch.user_id))


def _pair_rows(where) -> select:
    call_at = case((outbound_call(), Touch.occurred_at))
    return (select(Touch.user_id, Touch.lead_id, func.min(Touch.occurred_at), func.max(Touch.occurred_at),
                   func.min(call_at), func.max(call_at))
            .where(Touch.user_id.is_not(None), Touch.lead_id.is_not(None), *where)
            .group_by(Touch.user_id, Touch.lead_id))


HOUR_COLUMNS = ["hour", "user_id", "touches", *ADDITIVE]
DAY_COLUMNS = ["day", "user_id", "touches", *ADDITIVE]


def _day_rows(where) -> select:
    h = ActivityHour
    day = h.hour // DAY_HOURS
    return (select(day.label("day"), h.user_id, *(func.sum(getattr(h, name)) for name in ("touches", *ADDITIVE)))
            .where(*where).group_by(day, h.user_id))
PAIR_COLUMNS = ["user_id", "lead_id", "first_at", "last_at", "first_call_at", "last_call_at"]


def _rebuild_hours(hours: list[int]) -> None:
    db.session.execute(delete(ActivityHour).where(ActivityHour.hour.in_(hours)))
    ranges = _merged([(hour_start(h), hour_start(h + 1)) for h in hours])
    db.session.execute(insert(ActivityHour).from_select(HOUR_COLUMNS, _hour_rows(_within(Touch.occurred_at, ranges))))


def _rebuild_days(days: list[int]) -> None:
    """The days from their (already rebuilt) hours."""
    db.session.execute(delete(ActivityDay).where(ActivityDay.day.in_(days)))
    ranges = _merged([(day * DAY_HOURS, (day + 1) * DAY_HOURS) for day in days])
    db.session.execute(insert(ActivityDay).from_select(DAY_COLUMNS, _day_rows(_within(ActivityHour.hour, ranges))))


def _rebuild_pairs(pairs: list[tuple[int, int]]) -> None:
    db.session.execute(delete(RepLead).where(tuple_(RepLead.user_id, RepLead.lead_id).in_(pairs)))
    db.session.execute(insert(RepLead).from_select(
        PAIR_COLUMNS, _pair_rows([tuple_(Touch.user_id, Touch.lead_id).in_(pairs)])))


def refresh_activity_rollups(limit: int = MARKS_PER_RUN) -> int:
    """Rebuild the hours and rep-lead pairs marked since the last run from the touches; answers how many.

    Only the marks read here are deleted: a touch committed meanwhile keeps its mark (and so is
    read raw by the reports) until the next run."""
    marks = db.session.execute(select(ActivityMark.id, ActivityMark.user_id, ActivityMark.lead_id, ActivityMark.hour)
                               .order_by(ActivityMark.id).limit(limit)).all()
    if not marks:
        return 0
    hours = sorted({m.hour for m in marks})
    pairs = sorted({(m.user_id, m.lead_id) for m in marks if m.lead_id is not None})
    for i in range(0, len(hours), CHUNK):
        _rebuild_hours(hours[i:i + CHUNK])
    days = sorted({h // DAY_HOURS for h in hours})
    for i in range(0, len(days), CHUNK):
        _rebuild_days(days[i:i + CHUNK])
    for i in range(0, len(pairs), CHUNK):
        _rebuild_pairs(pairs[i:i + CHUNK])
    ids = [m.id for m in marks]
    for i in range(0, len(ids), CHUNK * 10):
        db.session.execute(delete(ActivityMark).where(ActivityMark.id.in_(ids[i:i + CHUNK * 10])))
    db.session.flush()
    return len(hours) + len(pairs)


def rebuild_all_activity_rollups() -> None:
    """The activity rollups from scratch (after a bulk load that bypassed the trigger)."""
    db.session.execute(delete(ActivityMark))
    db.session.execute(delete(ActivityHour))
    db.session.execute(delete(ActivityDay))
    db.session.execute(delete(RepLead))
    db.session.execute(insert(ActivityHour).from_select(HOUR_COLUMNS, _hour_rows([])))
    db.session.execute(insert(ActivityDay).from_select(DAY_COLUMNS, _day_rows([])))
    db.session.execute(insert(RepLead).from_select(PAIR_COLUMNS, _pair_rows([])))
    db.session.flush()



FURTHEST_STAGES_SQL = (
    "UPDATE leads SET furthest_stage = CASE f.r WHEN 0 THEN 'discover' WHEN 1 THEN 'nurture' WHEN 2 THEN 'propose' "
    "WHEN 3 THEN 'close' END FROM (SELECT lead_id, max(CASE to_stage WHEN 'discover' THEN 0 WHEN 'nurture' THEN 1 "
    "WHEN 'propose' THEN 2 ELSE 3 END) AS r FROM stage_changes GROUP BY lead_id) f WHERE f.lead_id = leads.id")
STAYS_SQL = (
    "UPDATE stage_changes SET ended_at = x.next_at, lead_created_at = x.created_at FROM ("
    "SELECT s.id, lead(s.changed_at) OVER (PARTITION BY s.lead_id ORDER BY s.changed_at, s.id) AS next_at, "
    "l.created_at FROM stage_changes s JOIN leads l ON l.id = s.lead_id) x WHERE x.id = stage_changes.id")


def rebuild_report_facts() -> None:
    """Every rollup and funnel fact from the rows, as migration 0013 first built them: for data loaded
    past the triggers (bench.generate's COPY). PostgreSQL and SQLite (3.33+, UPDATE … FROM) alike."""
    rebuild_all_activity_rollups()
    db.session.execute(text(FURTHEST_STAGES_SQL))
    db.session.execute(text(STAYS_SQL))
