"""Claiming the next lead, leases, and who may claim what."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.audit.models import AuditEvent
from crm.errors import AccessDenied
from crm.queue.service import LeaseLost, Reason, claim_lead, claim_next, release_lease, renew_lease
from tests import factories as f
from tests.queue.conftest import T0, follow_up, make_lead


def test_claim_takes_the_top_item_for_fifteen_minutes(rep):
    make_lead(rep, score=5)
    top = make_lead(rep, touched=False)
    claim = claim_next(rep, now=T0)
    assert claim.lead.id == top.id and claim.item.reason == Reason.NEW_LEAD
    assert claim.lead.claimed_by_id == rep.id
    assert claim.expires_at == T0 + timedelta(minutes=15) == claim.lead.claim_expires_at
    assert not claim.from_pool


def test_lease_length_comes_from_config(app, rep):
    make_lead(rep, touched=False)
    app.config["LEASE_MINUTES"] = 5
    try:
        assert claim_next(rep, now=T0).expires_at == T0 + timedelta(minutes=5)
    finally:
        app.config["LEASE_MINUTES"] = 15


def test_empty_queue_claims_nothing(rep):
    assert claim_next(rep, now=T0) is None


def test_pressing_next_again_releases_and_skips_the_held_lead(rep):
    first = make_lead(rep, touched=False, created=T0 - timedelta(hours=2))
    second = make_lead(rep, touched=False, created=T0 - timedelta(hours=1))
    assert claim_next(rep, now=T0).lead.id == first.id
    claim = claim_next(rep, now=T0 + timedelta(minutes=1))
    assert claim.lead.id == second.id
    assert first.claimed_by_id is None
    assert claim_next(rep, now=T0 + timedelta(minutes=2)).lead.id == first.id


def test_own_due_work_comes_before_the_pool_and_the_pool_lead_becomes_mine(rep, team):
    pool = make_lead(None, team, touched=False, created=T0 - timedelta(days=1))
    due = make_lead(rep)
    follow_up(due, rep, T0 - timedelta(minutes=1))
    assert claim_next(rep, now=T0).lead.id == due.id
    claim = claim_next(rep, now=T0, skip=(due.id,))
    assert claim.lead.id == pool.id and claim.from_pool and claim.item.reason == Reason.POOL
    assert pool.owner_id == rep.id and pool.claimed_by_id == rep.id
    event = f_audit(pool.id)
    assert event.action == "lead.claimed_from_pool" and event.actor_id == rep.id


def f_audit(lead_id):
    from crm.extensions import db

    return db.session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "leads", AuditEvent.entity_id == lead_id)
                             .order_by(AuditEvent.id.desc()).limit(1))


def test_pool_lead_without_team_takes_the_reps_team(rep):
    pool = make_lead(None, None, touched=False)
    claim = claim_next(rep, now=T0)
    assert claim.lead.id == pool.id and pool.team_id == rep.team_id


def test_the_oldest_pool_lead_goes_first(rep, team):
    newer = make_lead(None, team, touched=False, created=T0 - timedelta(minutes=5))
    older = make_lead(None, team, touched=False, created=T0 - timedelta(minutes=50))
    assert claim_next(rep, now=T0).lead.id == older.id
    assert claim_next(rep, now=T0, skip=(older.id,)).lead.id == newer.id


def test_a_lead_held_by_another_rep_is_not_claimed_until_the_lease_ends(rep, other_rep, team):
    pool = make_lead(None, team, touched=False)
    assert claim_next(other_rep, now=T0).lead.id == pool.id
    release_lease(other_rep, pool)  # now other_rep's own lead, not the pool's
    assert claim_next(rep, now=T0) is None


def test_renew_extends_and_refuses_an_expired_or_taken_lease(rep, other_rep, team):
    lead = make_lead(rep, touched=False)
    claim_next(rep, now=T0)
    assert renew_lease(rep, lead, now=T0 + timedelta(minutes=10)) == T0 + timedelta(minutes=25)
    with pytest.raises(LeaseLost) as expired:
        renew_lease(rep, lead, now=T0 + timedelta(minutes=26))
    assert expired.value.code == "lease_expired"
    lead.claimed_by_id, lead.claim_expires_at = other_rep.id, T0 + timedelta(hours=1)
    with pytest.raises(LeaseLost) as taken:
        renew_lease(rep, lead, now=T0 + timedelta(minutes=27))
    assert taken.value.code == "lease_taken" and other_rep.name in taken.value.message


def test_release_lets_go_only_of_ones_own_lease(rep, other_rep):
    lead = make_lead(rep, touched=False)
    claim_next(rep, now=T0)
    assert release_lease(other_rep, lead) is False and lead.claimed_by_id == rep.id
    assert release_lease(rep, lead) is True and lead.claimed_by_id is None and lead.claim_expires_at is None


@pytest.mark.parametrize("who", ["other_rep_of_team", "rep_of_other_team", "manager", "field", "admin"])
def test_claiming_a_lead_one_may_not_work_is_refused(rep, team, who):
    lead = make_lead(rep, touched=False)
    pool_elsewhere = make_lead(None, f.team(), touched=False)
    user = {"other_rep_of_team": lambda: f.user("rep", team=team), "rep_of_other_team": lambda: f.user("rep", team=f.team()),
            "manager": lambda: f.user("manager", team=team), "field": lambda: f.user("field", team=team),
            "admin": lambda: f.user("admin")}[who]()
    for target in (lead, pool_elsewhere):
        with pytest.raises(AccessDenied):
            claim_lead(user, target, now=T0)
    assert lead.claimed_by_id is None and pool_elsewhere.owner_id is None


@pytest.mark.parametrize("role", ["manager", "field", "admin"])
def test_next_lead_is_for_reps(team, role):
    make_lead(None, team, touched=False)
    with pytest.raises(AccessDenied):
        claim_next(f.user(role, team=team), now=T0)


def test_a_deactivated_rep_cannot_claim(rep, team):
    make_lead(rep, touched=False)
    rep.active = False
    with pytest.raises(AccessDenied):
        claim_next(rep, now=T0)


def test_claim_lead_takes_a_chosen_lead_and_refuses_one_held_by_another(rep, other_rep, team):
    mine = make_lead(rep)
    pool = make_lead(None, team, touched=False)
    assert claim_lead(rep, mine, now=T0) == T0 + timedelta(minutes=15)
    claim_lead(other_rep, pool, now=T0)
    assert pool.owner_id == other_rep.id
    with pytest.raises(AccessDenied):  # it is other_rep's lead now
        claim_lead(rep, pool, now=T0)
    assert mine.claimed_by_id == rep.id


def test_claim_lead_refuses_while_someone_else_holds_it(rep, other_rep):
    lead = make_lead(rep)
    lead.claimed_by_id, lead.claim_expires_at = other_rep.id, T0 + timedelta(minutes=3)
    with pytest.raises(LeaseLost, match=other_rep.name):
        claim_lead(rep, lead, now=T0)
    assert claim_lead(rep, lead, now=T0 + timedelta(minutes=4))
    assert lead.claimed_by_id == rep.id


def test_next_lead_lets_go_claims_and_audits_in_one_statement_on_postgresql(rep, team, count_queries, monkeypatch):
    """On PostgreSQL the release, the staged picks, the claim and the audit row are one statement, sent
    through psycopg's raw cursor between two settings (a generic plan for it alone); SQLite runs them as
    separate statements inside its write lock. The three go in one round trip (psycopg's pipeline)."""
    import psycopg

    from crm.db import is_postgresql
    from crm.extensions import db

    sent, piped = [], []
    execute = psycopg.RawCursor.execute
    monkeypatch.setattr(psycopg.RawCursor, "execute", lambda cursor, query, *a, **k: (
        sent.append(query), piped.append(cursor.connection.pgconn.pipeline_status == psycopg.pq.PipelineStatus.ON),
        execute(cursor, query, *a, **k))[2])
    held = make_lead(rep, touched=False, created=T0 - timedelta(hours=2))
    pool = make_lead(None, team, touched=False, created=T0 - timedelta(days=1))
    assert claim_next(rep, now=T0).lead.id == held.id
    sent.clear(), piped.clear()
    with count_queries() as counter:
        claim = claim_next(rep, now=T0 + timedelta(minutes=1))
    assert claim.lead is pool and claim.item.reason == Reason.POOL and claim.from_pool
    assert held.claimed_by_id is None and pool.claimed_by_id == rep.id and pool.owner_id == rep.id
    if is_postgresql(db.session):
        assert counter.count == 0 and len(sent) == 3 and piped == [True] * 3
        assert sent[0] == "SET LOCAL plan_cache_mode = force_generic_plan" and sent[2].endswith("DEFAULT")
        assert sent[1].startswith("WITH released AS") and "%(" not in sent[1] and "'open'" in sent[1]
    else:
        assert counter.count > 1 and not sent
    db.session.expire_all()  # what the database holds, not the session's copies
    assert (pool.owner_id, pool.team_id, pool.claimed_by_id) == (rep.id, team.id, rep.id)
    assert pool.claim_expires_at == T0 + timedelta(minutes=16) and held.claimed_by_id is None


def test_the_claimed_lead_comes_with_its_contact_source_and_campaign(rep, team, count_queries):
    """What Next lead answers with (the lead, its contact, source and campaign) needs no statement after the
    claim on PostgreSQL when asked for (the API does): the claim's row carries them. A fresh session holds none
    of them beforehand; without asking, the claim's row is the lead alone."""
    from crm.auth.models import User
    from crm.db import is_postgresql
    from crm.extensions import db
    from crm.leads.api import lead_out
    from crm.leads.models import Source

    source = Source(name="Trade fair")
    db.session.add(source)
    campaign = f.campaign(team, name="Spring push")
    lead = make_lead(rep, touched=False, first_name="Ana", last_name="Silva")
    lead.source_id, lead.campaign_id = source.id, campaign.id
    plain = make_lead(rep, touched=False, created=T0 - timedelta(days=1))  # no source, no campaign
    db.session.flush()
    ids = (rep.id, lead.id, plain.id)
    db.session.expunge_all()
    rep = db.session.get(User, ids[0])
    with count_queries() as counter:
        claim = claim_next(rep, now=T0, with_related=True)
        out = lead_out(claim.lead)
    assert claim.lead.id == ids[1]
    assert (out.contact.name, out.source, out.campaign.name) == ("Ana Silva", "Trade fair", "Spring push")
    if is_postgresql(db.session):
        assert counter.count == 0
    with count_queries() as counter:
        claim = claim_next(rep, now=T0, with_related=True)
        out = lead_out(claim.lead)
    assert claim.lead.id == ids[2] and out.source is None and out.campaign is None
    if is_postgresql(db.session):
        assert counter.count == 0
    db.session.expunge_all()
    rep = db.session.get(User, ids[0])
    with count_queries() as counter:
        claim = claim_next(rep, now=T0)
        assert claim.lead.contact.full_name  # loaded when read
    if is_postgresql(db.session):
        assert counter.count == 1


def test_the_pool_audit_row_names_the_rep_and_the_new_owner(rep, team):
    pool = make_lead(None, team, touched=False)
    claim_next(rep, now=T0)
    event = f_audit(pool.id)
    assert (event.action, event.actor_id, event.changes) == ("lead.claimed_from_pool", rep.id, {"owner_id": rep.id})
    assert event.created_at is not None


def test_a_claimed_own_lead_writes_no_pool_audit_row(rep):
    mine = make_lead(rep, touched=False)
    assert claim_next(rep, now=T0).lead.id == mine.id
    assert f_audit(mine.id) is None or f_audit(mine.id).action != "lead.claimed_from_pool"


def test_a_claim_reads_the_pool_in_its_index_order_on_its_generic_plan(rep, team):
    """The pool branches each name one team, so the claim's generic plan walks the pool index in order and
    stops at the first free lead; an OR of "the team's or no team's" in them made it bitmap-scan and sort
    the whole pool on every claim."""
    import json

    from psycopg import sql
    from sqlalchemy import text

    from crm.db import is_postgresql, utcnow
    from crm.extensions import db
    from crm.queue.service import _claim_params, _claim_statement, _work_statement

    if not is_postgresql(db.session):
        pytest.skip("a PostgreSQL plan")
    pool_branches = str(_work_statement(True, True, (4,)).compile(db.session.get_bind()))
    assert "leads.team_id IS NULL" in pool_branches and " OR " not in pool_branches.replace(
        "leads.claimed_by_id IS NULL OR leads.claimed_by_id = ", "").replace(" OR leads.claim_expires_at <= ", "")
    first = make_lead(None, team, touched=False)
    db.session.execute(text(  # a pool of thousands, as a busy team has
        "INSERT INTO leads (contact_id, title, stage, furthest_stage, status, lost_note, team_id, currency, score, "
        "stage_changed_at, created_at, updated_at) SELECT contact_id, title, stage, furthest_stage, status, lost_note, "
        "team_id, currency, score, stage_changed_at, created_at - n * interval '1 minute', updated_at "
        "FROM leads, generate_series(1, 3000) AS n WHERE id = :id"), {"id": first.id})
    db.session.execute(text("ANALYZE leads"))
    statement = _claim_statement(True, False)
    arguments = statement.arguments(_claim_params(rep, utcnow(), ()))
    driver = db.session.connection().connection.driver_connection
    with driver.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE claim_plan_check AS {statement.sql}")
        try:
            args = sql.SQL(", ").join(sql.Literal(value) for value in arguments).as_string(driver)
            cursor.execute(f"EXPLAIN (FORMAT JSON) EXECUTE claim_plan_check({args})")
            plan = cursor.fetchone()[0]
        finally:
            cursor.execute("DEALLOCATE claim_plan_check")
    plan = plan if isinstance(plan, list) else json.loads(plan)

    def nodes(node):
        yield node
        for child in node.get("Plans", []):
            yield from nodes(child)

    on_pool = [n["Node Type"] for n in nodes(plan[0]["Plan"]) if n.get("Index Name") == "ix_leads_team_pool"]
    assert on_pool and set(on_pool) == {"Index Scan"}
