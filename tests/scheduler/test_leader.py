"""The leader lock, both branches: PostgreSQL advisory lock and SQLite lock file."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm.scheduler.leader import FileLeaderLock, PostgresLeaderLock, lock_file_for, try_leader_lock


def test_only_one_holder_until_it_lets_go(database, tmp_path):
    lock_file = tmp_path / "scheduler.lock"
    first = try_leader_lock(database.engine, lock_file)
    assert first is not None and first.still_held()
    assert isinstance(first, PostgresLeaderLock if database.kind == "postgresql" else FileLeaderLock)
    try:
        assert try_leader_lock(database.engine, lock_file) is None  # the standby's answer
    finally:
        first.release()
    second = try_leader_lock(database.engine, lock_file)
    assert second is not None
    second.release()


def test_postgres_lock_is_freed_when_its_connection_dies(database):
    if database.kind != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's; SQLite's file lock is freed by the kernel")
    leader = try_leader_lock(database.engine)
    pid = leader._connection.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    with database.engine.connect() as admin:
        admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.commit()
    assert not leader.still_held()  # the leader notices and stops
    successor = try_leader_lock(database.engine)
    assert successor is not None  # a standby takes over
    successor.release()
    leader.release()  # releasing a dead lock is harmless


def test_sqlite_lock_file_sits_next_to_the_database(database):
    if database.kind != "sqlite":
        pytest.skip("PostgreSQL needs no lock file")
    path = lock_file_for(database.engine)
    assert path.name == "test.db.scheduler.lock" and str(path.parent) in database.url
    assert lock_file_for(sa.create_engine("sqlite://")).name == "scheduler.lock"
    assert str(lock_file_for(database.engine, "/srv/touchline/scheduler.lock")) == "/srv/touchline/scheduler.lock"
