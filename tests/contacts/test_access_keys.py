"""The contacts' access keys (PostgreSQL, migration 0018): kept by triggers as leads change hands,
never missing a key under which a rep may see the contact, and what a rep's search reads its matches by.

Each test ends by checking the rule the search relies on: every rep who owns one of a contact's leads,
every pool one of its open unowned leads waits in, and (for a contact with no lead) its own team, holds
one of the contact's keys. A key more is allowed (the exact rule turns the others away), one fewer is not.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from crm import access
from crm.auth.models import Role
from crm.cli import crm_cli
from crm.contacts.models import Contact
from crm.contacts.search import matches_search
from crm.contacts.service import merge_contacts
from crm.extensions import db
from crm.leads.models import LeadStatus
from crm.queue.service import claim_next, reassign_leads
from tests import factories as f
from tests.conftest import fresh_app_on


@pytest.fixture(autouse=True)
def _postgresql_only(database):
    if database.kind != "postgresql":
        pytest.skip("access keys are PostgreSQL's (SQLite's search applies the visibility rule alone)")


def keys(contact: Contact) -> list[str]:
    db.session.flush()
    return sorted(db.session.execute(sa.text("SELECT access_keys FROM contacts WHERE id = :id"),
                                     {"id": contact.id}).scalar_one())


def missing_keys() -> int:
    """Contacts a rep may see that none of that rep's keys (crm.access.contact_search_keys) would find."""
    db.session.flush()
    return db.session.execute(sa.text(
        "SELECT count(*) FROM contacts c WHERE EXISTS ("
        "  SELECT 1 FROM leads l JOIN users u ON u.id = l.owner_id WHERE l.contact_id = c.id AND u.role = :rep"
        "  AND NOT c.access_keys && ARRAY['o:' || u.id, 'p:' || coalesce(u.team_id::text, ''), 'p:',"
        "                                 'c:' || coalesce(u.team_id::text, ''), 'c:'])"
        " OR EXISTS (SELECT 1 FROM leads l WHERE l.contact_id = c.id AND l.owner_id IS NULL AND l.status = 'open'"
        "  AND NOT c.access_keys @> ARRAY['p:' || coalesce(l.team_id::text, '')])"
        " OR (NOT EXISTS (SELECT 1 FROM leads l WHERE l.contact_id = c.id)"
        "  AND NOT c.access_keys @> ARRAY['c:' || coalesce(c.team_id::text, '')])"), {"rep": Role.REP.value}).scalar_one()


def found(user, term: str) -> list[int]:
    stmt = access.visible_contacts(user).where(matches_search(Contact.id, term, db.session, user)).with_only_columns(Contact.id)
    return sorted(db.session.scalars(stmt))


def porto_team(**team):
    """Porto, its manager and two reps."""
    porto = f.team("Porto", **team)
    return porto, f.user(Role.MANAGER, team=porto), f.user(Role.REP, team=porto), f.user(Role.REP, team=porto)


def test_keys_follow_a_contact_from_no_lead_to_owned_to_pool_to_closed(app, db_session):
    porto = f.team("Porto")
    rep = f.user(Role.REP, team=porto)
    person = f.contact(first_name="Quintino", last_name="Barbosa", team_id=porto.id)
    assert keys(person) == [f"c:{porto.id}"]
    lead = f.lead(owner=rep, contact_obj=person)
    assert keys(person) == [f"o:{rep.id}"]
    lead.owner_id = None  # back to the team's pool
    assert keys(person) == [f"p:{porto.id}"]
    lead.status, lead.value = LeadStatus.WON, Decimal("900")  # closed while unowned: no rep may see it any more
    assert keys(person) == []
    assert found(rep, "quintino barbosa") == []
    db_session.delete(lead)
    assert keys(person) == [f"c:{porto.id}"]  # lead-less again: the contact's own team
    person.team_id = None
    assert keys(person) == ["c:"]
    assert missing_keys() == 0


def test_a_reassigned_lead_is_found_by_its_new_owner_only(app, db_session):
    _porto, manager, ana, rui = porto_team()
    person = f.contact(first_name="Quintino", last_name="Barbosa")
    lead = f.lead(owner=ana, contact_obj=person)
    assert found(ana, "quintino") == [person.id] and found(rui, "quintino") == []
    reassign_leads(manager, [lead.id], rui)
    assert keys(person) == [f"o:{rui.id}"]
    assert found(ana, "quintino") == [] and found(rui, "quintino") == [person.id]
    assert missing_keys() == 0


def test_a_claim_from_the_pool_keeps_the_pool_key_which_the_claimant_holds(app, db_session):
    porto, _manager, ana, rui = porto_team(pool_mode=True)
    person = f.contact(first_name="Quintino", last_name="Barbosa")
    f.lead(owner=None, contact_obj=person, team_obj=porto)
    assert keys(person) == [f"p:{porto.id}"]
    claim = claim_next(ana)
    assert claim is not None and claim.lead.owner_id == ana.id
    assert keys(person) == [f"p:{porto.id}"]  # not rewritten: ana's keys hold it
    assert f"p:{porto.id}" in access.contact_search_keys(ana)
    assert found(ana, "quintino barbosa") == [person.id]
    assert found(rui, "quintino barbosa") == []  # found by the key, turned away by the rule
    assert missing_keys() == 0
    # ana moves to another team, whose keys no longer hold Porto's pool: her contacts get her own key
    lisbon = f.team("Lisbon")
    ana.team_id = lisbon.id
    assert keys(person) == [f"o:{ana.id}"]
    assert found(ana, "quintino barbosa") == [person.id]
    assert missing_keys() == 0


def test_a_manager_handing_a_pool_lead_to_another_team_rewrites_the_keys(app, db_session):
    porto, lisbon = f.team("Porto", pool_mode=True), f.team("Lisbon")
    outsider = f.user(Role.REP, team=lisbon)
    person = f.contact(first_name="Quintino", last_name="Barbosa")
    lead = f.lead(owner=None, contact_obj=person, team_obj=porto)
    lead.owner_id = outsider.id  # the pool key p:<porto> is not among a Lisbon rep's keys
    assert keys(person) == [f"o:{outsider.id}"]
    assert found(outsider, "quintino") == [person.id]
    assert missing_keys() == 0


def test_merging_moves_the_duplicates_owners_to_the_survivor(app, db_session):
    _porto, manager, ana, rui = porto_team()
    survivor = f.contact(first_name="Quintino", last_name="Barbosa")
    duplicate = f.contact(first_name="Quintino", last_name="Barbosa")
    f.lead(owner=ana, contact_obj=survivor)
    f.lead(owner=rui, contact_obj=duplicate)
    merge_contacts(survivor, duplicate, actor=manager)
    assert keys(survivor) == sorted([f"o:{ana.id}", f"o:{rui.id}"])
    assert keys(duplicate) == [f"c:{duplicate.team_id or ''}"]  # no leads left; it is merged and hidden anyway
    assert found(rui, "quintino barbosa") == [survivor.id]
    assert missing_keys() == 0


def test_a_reps_keys_name_their_own_leads_their_pools_and_their_teams_lead_less_contacts(app, db_session):
    porto = f.team("Porto")
    rep = f.user(Role.REP, team=porto)
    loner = f.user(Role.REP, team=None)
    assert access.contact_search_keys(rep) == [f"o:{rep.id}", f"p:{porto.id}", "p:", f"c:{porto.id}", "c:"]
    assert access.contact_search_keys(loner) == [f"o:{loner.id}", "p:", "c:"]
    assert access.contact_search_keys(f.user(Role.FIELD, team=porto)) is None
    assert access.contact_search_keys(f.user(Role.ADMIN)) is None


def test_a_reps_search_finds_exactly_what_the_rule_lets_them_see(app, db_session):
    """The keys only narrow: the same contacts as the visibility rule applied to every match."""
    porto, lisbon = f.team("Porto"), f.team("Lisbon")
    rep, other = f.user(Role.REP, team=porto), f.user(Role.REP, team=porto)
    people = {
        "own": f.lead(owner=rep, contact_obj=f.contact(first_name="Quintino", last_name="Own")).contact,
        "others": f.lead(owner=other, contact_obj=f.contact(first_name="Quintino", last_name="Other")).contact,
        "pool": f.lead(owner=None, team_obj=porto, contact_obj=f.contact(first_name="Quintino", last_name="Pool")).contact,
        "teamless pool": f.lead(owner=None, contact_obj=f.contact(first_name="Quintino", last_name="Nopool")).contact,
        "lisbon pool": f.lead(owner=None, team_obj=lisbon,
                              contact_obj=f.contact(first_name="Quintino", last_name="Lispool")).contact,
        "lead-less": f.contact(first_name="Quintino", last_name="Alone", team_id=porto.id),
        "lisbon lead-less": f.contact(first_name="Quintino", last_name="Lisalone", team_id=lisbon.id),
    }
    everyone = select(Contact.id).where(access.contact_visibility(rep), Contact.id.in_([c.id for c in people.values()]))
    assert found(rep, "quintino") == sorted(db_session.scalars(everyone))
    assert found(rep, "quintino") == sorted(people[k].id for k in ("own", "pool", "teamless pool", "lead-less"))
    assert missing_keys() == 0


def contact_updates() -> int:
    """Rows of contacts this transaction has updated (PostgreSQL's per-transaction statistics)."""
    db.session.flush()
    return db.session.execute(sa.text(
        "SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'contacts'")).scalar_one()


def test_an_import_writes_each_new_person_once_with_their_keys(app, db_session, tmp_path):
    lisbon = f.team("Lisbon")
    rep = f.user(Role.REP, team=lisbon)
    f.user(Role.ADMIN)
    path = tmp_path / "people.csv"
    path.write_text("First Name,Last Name,Email\nQuintino,Barbosa,qb@example.pt\nQuirina,Barbosa,qib@example.pt\n",
                    encoding="utf-8")
    before = contact_updates()
    result = app.test_cli_runner().invoke(crm_cli, ["import", str(path), "--team", "Lisbon"])
    assert result.exit_code == 0, result.output
    people = db_session.scalars(select(Contact).where(Contact.last_name == "Barbosa")).all()
    assert len(people) == 2 and all(keys(person) == [f"o:{rep.id}"] for person in people)
    assert contact_updates() == before  # the keys came with the contacts: their leads did not rewrite them
    assert found(rep, "barbosa") == sorted(person.id for person in people)
    assert missing_keys() == 0


def test_keys_given_with_a_new_contact_are_checked_by_its_first_lead(app, db_session):
    lisbon = f.team("Lisbon")
    rep = f.user(Role.REP, team=lisbon)
    contact_id = db_session.execute(sa.text(
        "INSERT INTO contacts (first_name, last_name, timezone, locale, search_name, do_not_call, email_opt_out,"
        " created_at, updated_at, access_keys) VALUES ('Quintino', 'Barbosa', 'Europe/Lisbon', 'pt', 'quintino barbosa',"
        " false, false, now(), now(), ARRAY['o:0']) RETURNING id")).scalar_one()
    person = db_session.get(Contact, contact_id)
    assert keys(person) == ["o:0"]  # taken as given, on the writer's word that a lead follows
    f.lead(owner=rep, contact_obj=person)
    assert keys(person) == [f"o:{rep.id}"]  # wrong: the lead's insert rewrote them
    assert missing_keys() == 0


@pytest.fixture
def fresh_app(tmp_path):
    with fresh_app_on("postgresql", tmp_path) as app:
        yield app


def test_two_transactions_changing_leads_of_one_contact_leave_both_owners(fresh_app):
    """The second waits on the contact's lock, then computes from what the first committed."""
    with fresh_app.app_context():
        porto = f.team("Porto")
        first, ana, rui = (f.user(Role.REP, team=porto) for _ in range(3))
        person = f.contact(first_name="Quintino", last_name="Barbosa")
        one, two = f.lead(owner=first, contact_obj=person), f.lead(owner=first, contact_obj=person)
        ids = {"contact": person.id, "one": one.id, "two": two.id, "ana": ana.id, "rui": rui.id}
        db.session.commit()
        engine = db.engine
    errors: list[BaseException] = []

    def second():
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("UPDATE leads SET owner_id = :rui WHERE id = :two"), ids)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    with engine.connect() as conn:
        conn.execute(sa.text("UPDATE leads SET owner_id = :ana WHERE id = :one"), ids)
        waiting = threading.Thread(target=second)
        waiting.start()
        time.sleep(0.5)
        assert waiting.is_alive()  # held at the contact's lock
        conn.commit()
    waiting.join(10)
    assert not errors
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT access_keys FROM contacts WHERE id = :contact"), ids).scalar_one()
    assert sorted(stored) == sorted([f"o:{ids['ana']}", f"o:{ids['rui']}"])


def test_the_search_reads_a_reps_matches_from_the_keyed_index(app, db_session):
    porto = f.team("Porto")
    rep = f.user(Role.REP, team=porto)
    f.lead(owner=rep, contact_obj=f.contact(first_name="Quintino", last_name="Barbosa"))
    stmt = select(Contact.id).where(matches_search(Contact.id, "quintino barbosa", db_session, rep))
    compiled = stmt.compile(db_session.get_bind())
    connection = db_session.connection()
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a tiny table: make the planner show its choice
    plan = "\n".join(connection.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).scalars())
    # Which keyed index a near-empty table gets is the planner's guess; at a million contacts it is
    # keys_contacts_search_name for names (bench/README.md). Either way the keys are read from an index.
    assert "Index Cond: (access_keys && " in plan and "on keys_contacts_" in plan, plan
