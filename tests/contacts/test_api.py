"""/api/v1/contacts and accounts: create (recognising people), search, change, merge."""

from __future__ import annotations

from sqlalchemy import select

from crm.auth.models import Role
from crm.contacts.models import Contact
from crm.leads.models import Lead
from crm.touches.models import Touch
from crm.touches.service import log_touch
from tests import factories as f
from tests.api_helpers import Api


def test_create_contact_then_recognise_by_email(client, db_session):
    api = Api(client, f.user(Role.REP, f.team()))
    first = api.post("/contacts", {"first_name": "Ion", "last_name": "Popescu", "email": "Ion.Popescu@Example.ro",
                                   "phone": "+40 722 123 456", "timezone": "Europe/Bucharest"})
    assert first.status_code == 201, first.json
    assert first.json["email"] == "ion.popescu@example.ro"
    again = api.post("/contacts", {"first_name": "I.", "email": "ion.popescu@example.ro"})
    assert again.status_code == 200 and again.json["matched_on"] == "email" and again.json["id"] == first.json["id"]


def test_phone_in_a_national_form_needs_the_right_region(client, db_session):
    api = Api(client, f.user(Role.REP, f.team()))
    resp = api.post("/contacts", {"first_name": "Ion", "phone": "0722 123 456"})
    # DEFAULT_PHONE_REGION is PT: a Romanian national number is not a valid Portuguese one
    assert resp.status_code == 422 and "phone" in resp.json["error"]["fields"]
    ok = api.post("/contacts", {"first_name": "Ion", "phone": "+40 722 123 456"})
    assert ok.status_code == 201 and ok.json["phone"] == "+40722123456" and ok.json["country"] == "RO"


def test_search_finds_every_writing_of_a_phone_and_names(client, db_session):
    rep = f.user(Role.REP, f.team())
    contact = f.contact(first_name="Ana", last_name="Sousa", phone="+351912345678", email="ana@sousa.pt")
    f.lead(rep, contact_obj=contact)
    api = Api(client, rep)
    for query in ("+351 912 345 678", "912345678", "00351912345678", "912 345 678", "sousa", "ANA SOUSA", "sousa ana",
                  "ana@sousa"):
        ids = [c["id"] for c in api.get("/contacts", q=query).json["items"]]
        assert ids == [contact.id], query
    assert api.get("/contacts", q="nobody-like-this").json["items"] == []


def test_a_query_shorter_than_three_letters_matches_where_a_word_starts(client, db_session):
    """"an" finds Ana, Anders (by email) and Big Andes Ltd's people, not Susan or Mariana: a two-letter fragment
    inside a word has no trigram to look up, and is rarely what was meant. Three letters match anywhere."""
    rep = f.user(Role.REP, f.team())
    api = Api(client, rep)
    people = {
        "Ana Silva": {"email": "asilva@example.pt"},
        "Susan Wright": {"email": "swright@example.com"},
        "Mariana Costa": {"email": "mcosta@example.pt"},
        "Paulo Neves": {"email": "pneves@example.pt", "account": "Big Andes Ltd"},
        "Karl Berg": {"email": "anders.berg@example.se"},
        "Joanna Lee": {"email": "joanna@example.com"},
        "Li Wei": {"email": "lwei@example.cn"},
    }
    for name, extra in people.items():
        first, last = name.split(" ")
        assert api.post("/leads", {"contact": {"first_name": first, "last_name": last, **extra}}).status_code == 201

    def found(query):
        return sorted(c["full_name"] for c in api.get("/contacts", q=query).json["items"])

    assert found("an") == ["Ana Silva", "Karl Berg", "Paulo Neves"]
    assert found("AN") == found("an")
    assert found("ana") == ["Ana Silva", "Mariana Costa"]  # three letters: anywhere
    assert found("ann") == ["Joanna Lee"]
    assert found("si") == ["Ana Silva"]  # the start of the second word
    assert found("li wei") == ["Li Wei"] and found("wei li") == ["Li Wei"]
    assert found("s") == ["Ana Silva", "Susan Wright"]  # and swright@: one letter is a prefix too
    assert found("a%") == [] and found("_n") == []  # LIKE's wildcards are literal


def test_phone_search_reads_the_reversed_number_index_and_names_skip_the_emails(client, db_session):
    """The last digits of a number are a range on the reversed number (PostgreSQL), also once the statement is
    prepared and planned generically; a query with a space is a name, never an email."""
    from sqlalchemy import text

    from crm.contacts.search import _matches
    from crm.db import is_postgresql
    from crm.extensions import db

    rep = f.user(Role.REP, f.team())
    contact = f.contact(first_name="Rui", last_name="Mota", phone="+351934567890")
    f.lead(rep, contact_obj=contact)
    api = Api(client, rep)
    for _ in range(8):  # psycopg prepares a statement from its fifth run
        assert [c["id"] for c in api.get("/contacts", q="34 567 890").json["items"]] == [contact.id]
    assert "lower(contacts.email)" not in str(_matches("rui mota").compile())
    assert "lower(contacts.email)" in str(_matches("rui@mota").compile())
    if is_postgresql(db.session):
        statement = _matches("934 567 890", postgresql=True)
        compiled = statement.compile(db.session.get_bind(), compile_kwargs={"literal_binds": True})
        db.session.execute(text("SET LOCAL enable_seqscan = off"))  # a handful of test rows: no index otherwise
        plan = "\n".join(db.session.connection().exec_driver_sql(f"EXPLAIN {compiled}").scalars())
        db.session.execute(text("SET LOCAL enable_seqscan = on"))
        assert "rev_contacts_phone" in plan, plan


def test_search_by_company_and_in_cyrillic(client, db_session):
    rep = f.user(Role.REP, f.team())
    api = Api(client, rep)
    created = api.post("/leads", {"contact": {"first_name": "Наталья", "last_name": "Смирнова", "account": "Волга Трейд"}})
    assert created.status_code == 201
    assert [c["first_name"] for c in api.get("/contacts", q="волга").json["items"]] == ["Наталья"]
    assert [c["first_name"] for c in api.get("/contacts", q="смирнова").json["items"]] == ["Наталья"]


def test_contacts_of_other_reps_are_404_and_not_listed(client, db_session):
    team = f.team()
    rep, other = f.user(Role.REP, team), f.user(Role.REP, team)
    theirs = f.lead(other)
    api = Api(client, rep)
    assert api.get(f"/contacts/{theirs.contact_id}").status_code == 404
    assert theirs.contact_id not in [c["id"] for c in api.get("/contacts").json["items"]]
    assert api.patch(f"/contacts/{theirs.contact_id}", {"first_name": "X"}).status_code == 404


def test_patch_validates_and_refuses_a_clash(client, db_session):
    rep = f.user(Role.REP, f.team())
    a, b = f.lead(rep), f.lead(rep)
    api = Api(client, rep)
    ok = api.patch(f"/contacts/{a.contact_id}", {"phone": "+351 913 000 111", "do_not_call": True})
    assert ok.status_code == 200 and ok.json["phone"] == "+351913000111" and ok.json["do_not_call"] is True
    clash = api.patch(f"/contacts/{b.contact_id}", {"email": a.contact.email})
    assert clash.status_code == 422 and "merge" in clash.json["error"]["fields"]["email"]
    assert api.patch(f"/contacts/{b.contact_id}", {"email": "bad"}).json["error"]["fields"].keys() == {"email"}
    assert api.patch(f"/contacts/{b.contact_id}", {"first_name": ""}).status_code == 422


def test_merge_moves_history_and_is_managers_only(client, db_session):
    team = f.team()
    rep, manager = f.user(Role.REP, team), f.user(Role.MANAGER, team)
    keep, dup = f.lead(rep), f.lead(rep)
    dup_contact_id = dup.contact_id
    log_touch(contact=dup.contact, lead=dup, user=rep, channel="call", direction="outbound", outcome="no_answer")
    assert Api(client, rep).post(f"/contacts/{keep.contact_id}/merge", {"duplicate_id": dup.contact_id}).status_code == 403
    resp = Api(client, manager).post(f"/contacts/{keep.contact_id}/merge", {"duplicate_id": dup.contact_id})
    assert resp.status_code == 200, resp.json
    db_session.expire_all()
    assert db_session.get(Lead, dup.id).contact_id == keep.contact_id
    assert {t.contact_id for t in db_session.scalars(select(Touch))} == {keep.contact_id}
    assert db_session.get(Contact, dup_contact_id).merged_into_id == keep.contact_id
    again = Api(client, manager).post(f"/contacts/{keep.contact_id}/merge", {"duplicate_id": dup_contact_id})
    assert again.status_code in (404, 422)
    self_merge = Api(client, manager).post(f"/contacts/{keep.contact_id}/merge", {"duplicate_id": keep.contact_id})
    assert self_merge.status_code == 422


def test_accounts(client, db_session):
    api = Api(client, f.user(Role.REP, f.team()))
    created = api.post("/accounts", {"name": "Tejo Telecom", "country": "pt"})
    assert created.status_code == 201 and created.json["country"] == "PT"
    assert api.post("/accounts", {"name": ""}).status_code == 422
    assert [a["name"] for a in api.get("/accounts", q="tejo").json["items"]] == ["Tejo Telecom"]
    for name in ("100% Natural", "Titan Freight", "Big Andes Ltd", "A_B Consulting"):
        assert api.post("/accounts", {"name": name}).status_code == 201

    def named(query):
        return sorted(a["name"] for a in api.get("/accounts", q=query).json["items"])

    assert named("100%") == ["100% Natural"] and named("a_b") == ["A_B Consulting"]  # not wildcards:
    assert named("%") == [] and named("_") == []  # they once matched every company
    assert named("an") == ["Big Andes Ltd"]  # where a word starts; "tan" (three letters) anywhere:
    assert named("TAN") == ["Titan Freight"]
    assert api.get(f"/accounts/{created.json['id']}").json["name"] == "Tejo Telecom"
    assert api.get("/accounts/999999").status_code == 404
