"""Fixtures: one database per run and per engine, each test in a rolled-back transaction.

Every test that uses ``db_session`` (directly or through ``app``/``client``) runs
on SQLite, and again on PostgreSQL when TEST_DATABASE_URL is set. With CI=true a
missing service fails the run instead of skipping.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url
from sqlalchemy.orm import scoped_session, sessionmaker

from crm import create_app
from crm.extensions import db as _db
from crm.extensions import limiter
from crm.schema import upgrade

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("TEST_DATABASE_URL")


def skip_or_fail(reason: str):
    if IN_CI:
        pytest.fail(f"CI must have this: {reason}")
    pytest.skip(reason)


def _backends():
    backends = ["sqlite"]
    if PG_URL:
        backends.append("postgresql")
    elif IN_CI:
        backends.append("postgresql")  # fails loudly below: CI must set TEST_DATABASE_URL
    return backends


class Database:
    """A throwaway database of one kind for the whole run, migrated to head."""

    def __init__(self, kind: str, tmp_path: Path):
        self.kind = kind
        if kind == "sqlite":
            self.url = f"sqlite:///{tmp_path / 'test.db'}"
            self._admin_url = None
        else:
            if not PG_URL:
                skip_or_fail("TEST_DATABASE_URL is not set, so PostgreSQL tests cannot run")
            name = f"touchline_test_{uuid.uuid4().hex[:10]}"
            self._admin_url = PG_URL
            self.url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
            self.name = name
            admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
            try:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            except sa.exc.OperationalError as exc:
                skip_or_fail(f"PostgreSQL at TEST_DATABASE_URL is not reachable: {exc.orig}")
            finally:
                admin.dispose()
        self.engine = sa.create_engine(self.url)
        upgrade(self.engine)

    def drop(self):
        self.engine.dispose()
        if self._admin_url:
            admin = sa.create_engine(self._admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            admin.dispose()


_databases: dict[str, Database] = {}


@pytest.fixture(scope="session", params=_backends())
def database(request, tmp_path_factory):
    kind = request.param
    if kind not in _databases:
        _databases[kind] = Database(kind, tmp_path_factory.mktemp(kind))
    yield _databases[kind]


def pytest_sessionfinish(session, exitstatus):
    for database in _databases.values():
        database.drop()
    _databases.clear()


def make_app(database: Database, **overrides):
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database.url,
        "SECRET_KEY": "test-secret-key",
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": None,
        "SENDGRID_API_KEY": None,
        "INBOUND_PARSE_TOKEN": "inbound-test-token",
    }
    config.update(overrides)
    return create_app(config)


@contextlib.contextmanager
def fresh_app_on(kind: str, tmp_path: Path, **overrides):
    """An app on a database of its own (for tests whose threads or processes commit for real), dropped after.
    Without PostgreSQL it skips, or fails in CI, as every PostgreSQL test does."""
    database = Database(kind, tmp_path)
    app = make_app(database, **overrides)
    try:
        yield app
    finally:
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()
        database.drop()


@pytest.fixture(scope="session")
def _session_app(database):
    return make_app(database)


@pytest.fixture
def app(_session_app, database):
    """The app, with its session bound to one outer transaction that is rolled back."""
    with _session_app.app_context():
        connection = _db.engine.connect()
        transaction = connection.begin()
        original = _db.session
        # Flask-SQLAlchemy's own session picks the engine by bind key and would
        # ignore this connection; a plain session joins the outer transaction.
        _db.session = scoped_session(sessionmaker(bind=connection, join_transaction_mode="create_savepoint"))
        limiter.reset()
        try:
            yield _session_app
        finally:
            _db.session.remove()
            _db.session = original
            transaction.rollback()
            connection.close()


@pytest.fixture
def db_session(app):
    return _db.session


class CommittingClient(FlaskClient):
    """Commits the test's setup before each request, as a real caller would see it.

    Without this, a request that answers 4xx (and so rolls back) would also undo
    the records the test made; the outer transaction still rolls everything back.
    """

    def open(self, *args, **kwargs):
        _db.session.commit()
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app):
    app.test_client_class = CommittingClient
    return app.test_client()


@pytest.fixture
def dialect(database) -> str:
    return database.kind


class QueryCounter:
    def __init__(self):
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN")):
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    """``with count_queries() as counter: ...`` then ``counter.count`` (N+1 guard)."""
    import contextlib

    @contextlib.contextmanager
    def counting():
        counter = QueryCounter()
        bind = _db.session.get_bind()
        engine = bind.engine if hasattr(bind, "engine") else bind
        sa.event.listen(engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            sa.event.remove(engine, "before_cursor_execute", counter)

    return counting
