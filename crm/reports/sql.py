"""SQL pieces the reports need on both SQLite and PostgreSQL.

Durations between timestamps and medians/percentiles differ between the two; each is
one small construct here with a branch per dialect, so the report queries stay portable.
Medians and percentiles use window functions (row_number, count) that both support.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, and_, case, func, null, or_, select, text, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


class seconds_between(FunctionElement):  # noqa: N801  (reads like the SQL function it renders)
    """``later − earlier`` in seconds (a float on PostgreSQL, whole seconds on SQLite)."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between)
def _seconds_between_pg(element, compiler, **kw):
    earlier, later = list(element.clauses)
    # date_part gives a float; EXTRACT a numeric since PostgreSQL 14, several times slower to compute and
    # sort (the medians of a whole organisation's speed-to-lead and stays take one per lead or stay).
    return f"date_part('epoch', {compiler.process(later, **kw)} - {compiler.process(earlier, **kw)})"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element, compiler, **kw):
    earlier, later = list(element.clauses)
    return (f"(CAST(strftime('%s', {compiler.process(later, **kw)}) AS INTEGER) - "
            f"CAST(strftime('%s', {compiler.process(earlier, **kw)}) AS INTEGER))")


class epoch_hour(FunctionElement):  # noqa: N801
    """The UTC hour a timestamp falls in, as whole hours since 1970-01-01 (the activity rollups' key)."""

    type = BigInteger()
    inherit_cache = True
    name = "epoch_hour"


@compiles(epoch_hour)
def _epoch_hour_pg(element, compiler, **kw):
    (moment,) = list(element.clauses)
    return f"(floor(EXTRACT(EPOCH FROM {compiler.process(moment, **kw)}) / 3600))::bigint"


@compiles(epoch_hour, "sqlite")
def _epoch_hour_sqlite(element, compiler, **kw):
    (moment,) = list(element.clauses)
    return f"(CAST(strftime('%s', {compiler.process(moment, **kw)}) AS INTEGER) / 3600)"


def quantiles(values, key, value, *, postgresql: bool = False):
    """SELECT key, median, p90, n over the rows of subquery ``values`` grouped by ``key``.

    ``key`` and ``value`` are columns of ``values`` (``key`` may be None: one group).
    Median: the middle value, or the mean of the two middle ones; p90: nearest rank ⌈0.9·n⌉.
    PostgreSQL has these as ordered-set aggregates (percentile_cont, percentile_disc: the same
    definitions, one pass); SQLite gets them from row_number() and count() windows.
    """
    if postgresql:
        cols = [func.percentile_cont(0.5).within_group(value).label("median"),
                func.percentile_disc(0.9).within_group(value).label("p90"), func.count(value).label("n")]
        if key is None:
            return select(*cols).where(value.is_not(None))
        return select(key.label("key"), *cols).where(value.is_not(None)).group_by(key)
    partition = [key] if key is not None else None
    rn = func.row_number().over(partition_by=partition, order_by=value).label("rn")
    n = func.count().over(partition_by=partition).label("n")
    cols = [value.label("v"), rn, n] + ([key.label("k")] if key is not None else [])
    ranked = select(*cols).where(value.is_not(None)).subquery("ranked")
    middle = or_(ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.rn == (ranked.c.n + 2) // 2)
    median = func.avg(case((middle, ranked.c.v))).label("median")
    p90 = func.max(case((ranked.c.rn == (ranked.c.n * 9 + 9) // 10, ranked.c.v))).label("p90")
    count = func.max(ranked.c.n).label("n")
    if key is None:
        return select(median, p90, count)
    return select(ranked.c.k.label("key"), median, p90, count).group_by(ranked.c.k)


# PostgreSQL, for the report's transaction: no JIT (report aggregates are short; compiling them cost
# more than it saved: seconds of JIT for a second of work, measured at 1M leads); and memory enough for
# the medians' sorts of a whole organisation's period (~160,000 leads), which in the default 4 MB went to disk.
# And custom plans always: the driver prepares a statement it has run five times, and PostgreSQL's generic
# plan for a report (its period edges unknown) read whole tables where the period's index range would do.
REPORT_SETTINGS = ("SET LOCAL jit = off", "SET LOCAL work_mem = '64MB'", "SET LOCAL plan_cache_mode = force_custom_plan")


def quantiles_per_key_and_total(values, key, total_key, value, *, postgresql: bool = False):
    """Like ``quantiles``, per ``key`` and per ``total_key`` in one statement: rows (key, total_key,
    median, p90, n) with ``total_key`` NULL in the rows per key and ``key`` NULL in the total rows.
    PostgreSQL reads ``values`` once (GROUPING SETS), and also answers ``missing``: the rows whose value
    is NULL (which the aggregates skip); SQLite runs the two groupings one after the other."""
    if postgresql:
        return (select(key.label("key"), total_key.label("total_key"),
                       func.percentile_cont(0.5).within_group(value).label("median"),
                       func.percentile_disc(0.9).within_group(value).label("p90"), func.count(value).label("n"),
                       (func.count() - func.count(value)).label("missing"))
                .group_by(func.grouping_sets(key, total_key)))
    per_key = quantiles(values, key, value).subquery("per_key")
    total = quantiles(values, total_key, value).subquery("total")
    return union_all(
        select(per_key.c.key, null().label("total_key"), per_key.c.median, per_key.c.p90, per_key.c.n),
        select(null().label("key"), total.c.key.label("total_key"), total.c.median, total.c.p90, total.c.n))


def for_reports(session) -> None:
    """The report settings above, on PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        for setting in REPORT_SETTINGS:
            session.execute(text(setting))


def in_period(column, start, end):
    return and_(column >= start, column < end)
