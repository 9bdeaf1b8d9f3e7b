"""Pooled connections: a dead idle one is replaced before a request sees it; busy ones are not pinged."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm.extensions import db
from tests.conftest import Database, make_app


def _pid(connection) -> int:
    return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def _kill(database, pid: int) -> None:
    admin = sa.create_engine(database.url, poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
    admin.dispose()


@pytest.fixture(scope="module")
def pg_database(tmp_path_factory):
    """A PostgreSQL database of its own (terminating server connections is PostgreSQL's)."""
    database = Database("postgresql", tmp_path_factory.mktemp("ping"))
    yield database
    database.drop()


def test_a_dead_idle_connection_is_replaced_before_use(pg_database):
    app = make_app(pg_database, DATABASE_PING_AFTER_IDLE_SECONDS=0, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1})
    with app.app_context():
        with db.engine.connect() as conn:
            first = _pid(conn)
        _kill(pg_database, first)  # the server restarted, or a firewall dropped the idle connection
        with db.engine.connect() as conn:
            assert _pid(conn) != first  # pinged, found dead, replaced: the caller never saw it
        db.engine.dispose()


def test_without_the_idle_check_the_dead_connection_reaches_the_caller(pg_database):
    """What the check saves: the same as above with a threshold the connection did not reach."""
    app = make_app(pg_database, DATABASE_PING_AFTER_IDLE_SECONDS=3600, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1})
    with app.app_context():
        with db.engine.connect() as conn:
            first = _pid(conn)
        _kill(pg_database, first)
        with pytest.raises(sa.exc.OperationalError), db.engine.connect() as conn:
            _pid(conn)
        with db.engine.connect() as conn:  # SQLAlchemy replaced the pool after the disconnect
            assert _pid(conn) != first
        db.engine.dispose()


@pytest.mark.parametrize(("idle_seconds", "pings"), [(3600, 0), (0, 3), (-1, 0)])
def test_only_connections_idle_past_the_threshold_are_pinged(database, monkeypatch, idle_seconds, pings):
    app = make_app(database, DATABASE_PING_AFTER_IDLE_SECONDS=idle_seconds)
    with app.app_context():
        sent = []
        ping = db.engine.dialect.do_ping
        monkeypatch.setattr(db.engine.dialect, "do_ping", lambda dbapi_connection: sent.append(1) or ping(dbapi_connection))
        for _ in range(4):  # the first checkout is a new connection: nothing to check
            with db.engine.connect() as conn:
                assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        assert len(sent) == pings
        db.engine.dispose()



def test_postgresql_cursors_describe_columns_as_plain_tuples(db_session):
    """psycopg connections use the lean cursor: each column of a result is DBAPI's 7-tuple (name, type
    code), read by SQLAlchemy as before, for rows, no rows and statements that return none."""
    from crm.db import is_postgresql

    if not is_postgresql(db.session):
        pytest.skip("psycopg's cursor")
    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        cursor.execute("SELECT 1 AS one, 'x'::text AS \"Naïve\", now() AS at WHERE %s", [True])
        assert [(d[0], d[1]) for d in cursor.description] == [("one", 23), ("Naïve", 25), ("at", 1184)]
        assert all(len(d) == 7 for d in cursor.description) and cursor.fetchall()[0][0] == 1
        cursor.execute("SELECT 1 AS one WHERE false")
        assert [d[0] for d in cursor.description] == ["one"] and cursor.fetchall() == []
        cursor.execute("SET LOCAL work_mem = '8MB'")
        assert cursor.description is None
    row = db.session.execute(sa.text("SELECT 2 AS two, 'y' AS why")).one()
    assert row._mapping == {"two": 2, "why": "y"}


def test_read_only_api_requests_run_outside_a_transaction_block(pg_database):
    """GETs marked read_only send no BEGIN and no COMMIT (each statement commits alone, on its own snapshot as
    in READ COMMITTED); the connection goes back to the pool in transactions again, so the next writer's
    statements are inside one, and a read-only endpoint still answers what a rep may see."""
    from psycopg.pq import TransactionStatus

    from crm.api.blueprint import READ_ONLY_ENDPOINTS
    from tests import factories

    assert {"api.leads_get_lead", "api.touches_list_touches", "api.contacts_list_contacts"} <= READ_ONLY_ENDPOINTS
    app = make_app(pg_database, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1})
    with app.app_context():
        rep = factories.user()
        lead = factories.lead(owner=rep)
        secret = factories.token(rep)
        db.session.commit()
        lead_id, headers = lead.id, {"Authorization": f"Bearer {secret}"}
        db.session.remove()
        states = []

        def note_state(conn, cursor, statement, *args):
            states.append(cursor.connection.info.transaction_status)

        sa.event.listen(db.engine, "after_cursor_execute", note_state)
        client = app.test_client()
        try:
            for path in (f"/api/v1/leads/{lead_id}", f"/api/v1/touches?lead_id={lead_id}", "/api/v1/contacts?q=First"):
                states.clear()
                answer = client.get(path, headers=headers)
                assert answer.status_code == 200, answer.json
                assert states and set(states) == {TransactionStatus.IDLE}, path  # no transaction was open
            assert client.get(f"/api/v1/leads/{lead_id + 1000}", headers=headers).status_code == 404
            states.clear()
            logged = client.post("/api/v1/touches", headers=headers,
                                 json={"lead_id": lead_id, "channel": "call", "direction": "outbound"})
            assert logged.status_code == 201, logged.json
            assert states and set(states) == {TransactionStatus.INTRANS}  # a writer is in one transaction
            listed = client.get(f"/api/v1/touches?lead_id={lead_id}", headers=headers).json["items"]
            assert [t["id"] for t in listed] == [logged.json["id"]]  # committed, and read back without a block
        finally:
            sa.event.remove(db.engine, "after_cursor_execute", note_state)
            db.session.remove()
            db.engine.dispose()
