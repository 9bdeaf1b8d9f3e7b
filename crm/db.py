"""The declarative base, shared column types and database-specific switches.

PostgreSQL-only features (SKIP LOCKED, advisory locks) sit behind small
functions here with a SQLite branch, so callers never test the dialect.
"""

from __future__ import annotations

import enum
import functools
import sqlite3
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import DateTime, Enum, MetaData, Numeric, event, exc, func, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import Grouping
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware datetime, stored in UTC on every database.

    SQLite keeps no zone, so values are written as naive UTC there and come
    back aware; a naive value from Python is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a zone first")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


Money = Numeric(14, 2)


def checked_enum(enum_cls: type[enum.Enum], name: str) -> Enum:
    """An enum stored as a string with a CHECK constraint (no native PG type)."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda cls: [m.value for m in cls],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime(), Decimal: Money},
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())


def ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Check a pooled connection is alive before use only if it sat unused for ``idle_seconds``.

    SQLAlchemy's ``pool_pre_ping`` sends a ``SELECT 1`` on every checkout, i.e. one more round trip
    on every request (≈ 12 % of a web worker's time under load). A database restart or a dropped
    idle connection (a firewall, ``idle_session_timeout``) shows on connections that waited, so
    those are pinged, and a dead one is replaced before the request sees it; busy connections are
    not. A restart in the seconds after a connection's last use still fails that one request, and
    SQLAlchemy then replaces the whole pool. ``idle_seconds`` < 0 turns the check off.
    """
    if idle_seconds < 0:
        return

    @event.listens_for(engine.pool, "checkin")
    def _note_checkin(dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _ping_if_idle(dbapi_connection, record, proxy):
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # any failure of a bare SELECT 1: let the pool open a fresh connection
            raise exc.DisconnectionError(f"an idle pooled connection was dead: {error}") from error


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record):
    """Foreign keys on, WAL, a busy timeout; and hand transactions to SQLAlchemy.

    The pysqlite driver's own BEGIN handling breaks SAVEPOINT; SQLAlchemy's
    documented recipe turns it off and emits BEGIN itself (see _sqlite_on_begin).
    """
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None
    # SQLite's lower() folds only ASCII; names in Cyrillic or with accents must search too.
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
    # SQLite sorts by code point ("Zoë" before "Álvaro", Cyrillic after everything); see collated().
    dbapi_connection.create_collation(SQLITE_COLLATION, _unicode_compare)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "connect")
def _psycopg_on_connect(dbapi_connection, connection_record):
    """psycopg connections make their cursors with a lean ``description`` (see _lean_cursor)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        return
    import psycopg

    if isinstance(dbapi_connection, psycopg.Connection):
        dbapi_connection.cursor_factory = _lean_cursor()


@functools.cache
def _lean_cursor():
    """psycopg's cursor with a cheaper ``description``: DBAPI's 7-tuples (name, type code, five None) where
    psycopg builds a Column object per column, each decoding its name and looking up its type's info.
    SQLAlchemy reads only the name and the type code of each, once per statement, and a lead with its
    contact, campaign and source is 57 columns: those objects were ~14 % of a lead API call's Python time."""
    import psycopg
    from psycopg.pq import ExecStatus

    returns_rows = {ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, getattr(ExecStatus, "TUPLES_CHUNK", None)}

    class LeanDescriptionCursor(psycopg.Cursor):
        @property
        def description(self):
            result = self.pgresult
            if not result or not (result.nfields or result.status in returns_rows):
                return None
            encoding = self.connection.info.encoding
            return [((result.fname(i) or f"column_{i + 1}".encode()).decode(encoding), result.ftype(i),
                     None, None, None, None, None) for i in range(result.nfields)]

    return LeanDescriptionCursor


def _unicode_lower(value):
    return value.lower() if isinstance(value, str) else value


# Names sort by the Unicode Collation Algorithm's root order on both databases, so a list
# reads the same to a Portuguese, Romanian or Russian user: accents and case after the base
# letter ("Álvaro" next to "Alberto", not after "Zoë"), Latin before Greek, Cyrillic, then CJK.
# PostgreSQL: ICU's root collation, which PostgreSQL 15 builds with ICU ships as "und-x-icu".
# SQLite: pyuca (the same algorithm and table, pure Python), registered on every connection.
POSTGRESQL_COLLATION = "und-x-icu"
SQLITE_COLLATION = "unicode"
_collator = None


@functools.lru_cache(maxsize=65536)
def unicode_sort_key(value: str) -> tuple:
    """The UCA sort key of ``value`` (cached: a sort compares each name many times)."""
    global _collator
    if _collator is None:
        import pyuca

        _collator = pyuca.Collator()
    return _collator.sort_key(value)


def _unicode_compare(left: str, right: str) -> int:
    a, b = unicode_sort_key(left), unicode_sort_key(right)
    if a == b:
        return (left > right) - (left < right)  # a total order, as PostgreSQL's deterministic collation
    return -1 if a < b else 1


def collated(expr, session):
    """``expr`` (a name) compared and sorted in the locale-aware order described above."""
    # In brackets: COLLATE binds tighter than ||, and a name is often first || ' ' || last.
    return Grouping(expr).collate(POSTGRESQL_COLLATION if is_postgresql(session) else SQLITE_COLLATION)


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn):
    if conn.dialect.name == "sqlite":
        # IMMEDIATE takes the write lock up front: two writers queue on the busy
        # timeout instead of one failing later with "database is locked".
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_postgresql(session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def dialect_insert(session):
    """The session's database's own INSERT construct, the one with ON CONFLICT (PostgreSQL's or SQLite's)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return pg_insert if is_postgresql(session) else sqlite_insert


def skip_locked(stmt, session):
    """Add FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's write lock already serialises."""
    if is_postgresql(session):
        return stmt.with_for_update(skip_locked=True)
    return stmt


@contextmanager
def exact_index_lookups(session):
    """Within the block, PostgreSQL looks many exact values up one by one in their b-tree index.

    For ``lower(email) IN (1,000 values)`` the planner otherwise picks the trigram GIN index
    (which also answers ``=``, but takes seconds when every value shares trigrams such as
    "com") or a sequential scan of the table (which grows with it). SQLite: nothing to do.
    """
    if not is_postgresql(session):
        yield
        return
    from sqlalchemy import text

    settings = ("enable_seqscan", "enable_bitmapscan")
    saved = {name: session.scalar(text("SELECT current_setting(:n)"), {"n": name}) for name in settings}
    for name in settings:
        session.execute(text("SELECT set_config(:n, 'off', true)"), {"n": name})
    try:
        yield
    finally:
        for name, value in saved.items():
            session.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})


def write_columns(session, instance, values: dict, *conditions) -> bool:
    """UPDATE ``values`` on ``instance``'s row now, in one Core statement (no unit of work, no read back), and
    make the session's copy agree; False, with the copy untouched, when ``conditions`` matched no row."""
    table = type(instance).__table__
    written = session.execute(update(table).where(table.c.id == instance.id, *conditions).values(**values)).rowcount == 1
    if written:
        for name, value in values.items():
            set_committed_value(instance, name, value)
    return written


def bulk_insert(session, table, rows: list[dict]) -> list[int]:
    """Insert many rows of ``table`` and return their new ids, in order.

    PostgreSQL: ids are taken from the table's sequence in one query and the rows go
    in with COPY (several times faster than INSERT … VALUES). SQLite: one multi-row
    INSERT … RETURNING. Both inside the session's current transaction.
    """
    if not rows:
        return []
    if not is_postgresql(session):
        from sqlalchemy import insert

        return list(session.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows))
    from sqlalchemy import text

    ids = list(session.scalars(text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                               {"t": table.name, "n": len(rows)}))
    columns = ["id", *rows[0].keys()]
    raw = session.connection().connection.driver_connection
    with raw.cursor().copy(f'COPY "{table.name}" ({", ".join(columns)}) FROM STDIN') as copy:
        for new_id, row in zip(ids, rows, strict=True):
            copy.write_row([new_id, *(_copy_value(v) for v in row.values())])
    return ids


def _copy_value(value):
    if isinstance(value, enum.Enum):
        return value.value
    return value
