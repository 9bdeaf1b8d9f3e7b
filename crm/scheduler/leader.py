"""Only one scheduler runs jobs: the one that holds the leader lock.

PostgreSQL: a session-level advisory lock on a dedicated connection kept for the
life of the process. When the process dies its connection closes and the lock is
free; TCP keepalives on that connection make the server notice a vanished
machine within about half a minute. SQLite (one machine): an exclusive lock on a
file next to the database, which the kernel releases when the process dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from config import INSTANCE_DIR

log = logging.getLogger(__name__)

# One key per database (advisory locks are per database), the same in every process.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"touchline:scheduler").digest()[:8], "big", signed=True)
# The server drops a silent client after idle + interval * count seconds.
KEEPALIVE = {"idle": 10, "interval": 5, "count": 3}


class PostgresLeaderLock:
    def __init__(self, engine: Engine, connection):
        self._engine = engine
        self._connection = connection

    def still_held(self) -> bool:
        """The lock lives as long as its connection does."""
        try:
            self._connection.execute(text("SELECT 1"))
        except Exception:
            log.exception("the leader lock's connection is gone")
            return False
        return True

    def release(self) -> None:
        try:
            self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
            self._connection.close()
        except Exception:
            log.warning("could not release the leader lock cleanly; closing its connection frees it")
        finally:
            self._engine.dispose()

    def __repr__(self) -> str:
        return f"<PostgreSQL advisory lock {LOCK_KEY}>"


class FileLeaderLock:
    def __init__(self, path: Path, fd: int):
        self.path = path
        self._fd = fd

    def still_held(self) -> bool:
        return self._fd >= 0

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1

    def __repr__(self) -> str:
        return f"<lock file {self.path}>"


def lock_file_for(engine: Engine, configured: str | None = None) -> Path:
    """Where the SQLite scheduler's lock file lives: next to the database file."""
    if configured:
        return Path(configured)
    database = engine.url.database
    if database and database != ":memory:":
        return Path(database).with_name(Path(database).name + ".scheduler.lock")
    return INSTANCE_DIR / "scheduler.lock"


def try_leader_lock(engine: Engine, lock_file: Path | None = None):
    """Try once to become the leader; the lock (still_held(), release()) or None if another holds it."""
    if engine.dialect.name == "postgresql":
        return _try_postgres(engine)
    return _try_file(lock_file or lock_file_for(engine))


def _try_postgres(engine: Engine) -> PostgresLeaderLock | None:
    # Its own engine: the lock's connection is never returned to a pool or shared.
    lock_engine = create_engine(
        engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT",
        connect_args={"keepalives": 1, "keepalives_idle": KEEPALIVE["idle"],
                      "keepalives_interval": KEEPALIVE["interval"], "keepalives_count": KEEPALIVE["count"]},
    )
    connection = lock_engine.connect()
    try:
        for name, value in KEEPALIVE.items():
            connection.execute(text(f"SET tcp_keepalives_{name} = {int(value)}"))
        got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}).scalar()
    except Exception:
        connection.close()
        lock_engine.dispose()
        raise
    if not got:
        connection.close()
        lock_engine.dispose()
        return None
    return PostgresLeaderLock(lock_engine, connection)


def _try_file(path: Path) -> FileLeaderLock | None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return FileLeaderLock(path, fd)
