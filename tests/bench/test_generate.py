"""The benchmark data generator: consistent, reproducible data on PostgreSQL."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.generate import generate
from tests.conftest import PG_URL, skip_or_fail


def _url():
    if not PG_URL:
        skip_or_fail("TEST_DATABASE_URL is not set; the generator needs PostgreSQL")
    return make_url(PG_URL).set(database=f"touchline_gen_{uuid.uuid4().hex[:8]}").render_as_string(False)


def _drop(url):
    u = make_url(url)
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
    admin.dispose()


def _snapshot(url):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        counts = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()  # noqa: S608 (fixed table names)
                  for t in ("leads", "contacts", "touches", "stage_changes", "tasks", "handoffs", "users", "teams")}
        orphans = conn.execute(sa.text(
            "SELECT (SELECT count(*) FROM touches t LEFT JOIN leads l ON l.id = t.lead_id WHERE l.id IS NULL)"
            " + (SELECT count(*) FROM leads l LEFT JOIN contacts c ON c.id = l.contact_id WHERE c.id IS NULL)"
            " + (SELECT count(*) FROM leads l LEFT JOIN users u ON u.id = l.owner_id"
            "    WHERE l.owner_id IS NOT NULL AND u.id IS NULL)"
        )).scalar()
        digest = conn.execute(sa.text("SELECT md5(string_agg(stage || status || coalesce(owner_id, 0), ',' ORDER BY id))"
                                      " FROM leads")).scalar()
        indexes = conn.execute(sa.text("SELECT count(*) FROM pg_indexes WHERE tablename = 'touches'")).scalar()
        triggers_off = conn.execute(sa.text("SELECT count(*) FROM pg_trigger WHERE tgenabled = 'D'")).scalar()
        # COPY went past the triggers that keep the contacts' access keys; the generator computes them after
        wrong_keys = conn.execute(sa.text("SELECT count(*) FROM contacts WHERE access_keys IS NULL"
                                          " OR access_keys IS DISTINCT FROM contact_access_keys(id, team_id)")).scalar()
    engine.dispose()
    return counts, orphans, digest, indexes, triggers_off, wrong_keys


def test_generator_is_consistent_and_reproducible():
    first, second = _url(), _url()
    try:
        figures = generate(first, 300, 4, seed=5, reps_n=20, teams_n=4)
        generate(second, 300, 4, seed=5, reps_n=20, teams_n=4)
        counts, orphans, digest, indexes, triggers_off, wrong_keys = _snapshot(first)
        assert counts["leads"] == counts["contacts"] == 300 and counts["touches"] == 1200
        assert figures["touches"] == 1200 and counts["stage_changes"] >= 300
        assert counts["teams"] == 4 and counts["handoffs"] > 0 and counts["tasks"] > 0
        assert orphans == 0 and triggers_off == 0 and wrong_keys == 0
        assert indexes >= 7  # secondary indexes rebuilt after the load
        assert _snapshot(second)[2] == digest  # same seed, same data
    finally:
        _drop(first)
        _drop(second)
