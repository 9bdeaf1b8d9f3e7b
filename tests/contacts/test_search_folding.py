"""Names are found without regard to accents or case, in every script, on every write path."""

from __future__ import annotations

import importlib.util

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from crm import ROOT
from crm.auth.models import Role
from crm.contacts.folding import SEARCH_NAME_LENGTH, fold, name_key
from crm.contacts.models import Contact
from crm.contacts.privacy import erase_contact
from crm.contacts.service import update_contact
from crm.extensions import db
from crm.imports import service as imports
from tests import factories as f
from tests.api_helpers import Api


@pytest.mark.parametrize(("written", "folded"), [
    ("João", "joao"), ("JOÃO", "joao"), ("Gonçalves", "goncalves"), ("Conceição", "conceicao"),
    ("Ștefan", "stefan"),  # s with comma below (U+0219), the correct Romanian letter
    ("Ştefan", "stefan"),  # s with cedilla (U+015F), what older keyboards type
    ("Ţurcanu", "turcanu"), ("Țurcanu", "turcanu"), ("Brăescu", "braescu"), ("Îonescu", "ionescu"),
    ("ЁЛКИН", "елкин"), ("ёлкин", "елкин"), ("Елкин", "елкин"),
    ("Андрей", "андрей"),  # й stays a letter of its own
    ("がくせい", "がくせい"),  # dakuten make other kana: kept
    ("ﾊﾟﾝ", "パン"),  # half-width katakana: their ordinary form
    ("Straße", "strasse"), ("Łukasz Øster", "lukasz oster"), ("  Ana \t Silva ", "ana silva"),
])
def test_fold_removes_case_and_accents_but_keeps_letters(written, folded):
    assert fold(written) == folded


def test_name_key_is_bounded_and_tolerates_missing_parts():
    assert name_key("Ana", None) == "ana"
    assert name_key(None, None) == ""
    assert len(name_key("ﷺ" * 120, "ﷺ" * 120)) == SEARCH_NAME_LENGTH  # one character folds into many


PEOPLE = [("João", "Gonçalves"), ("Ștefan", "Dumitru"), ("Ştefania", "Rusu"), ("Mihai", "Brăescu"),
          ("Пётр", "Ёлкин"), ("Inês", "Conceição"), ("Андрей", "Йошкин"), ("Joana", "Dias")]
QUERIES = [
    ("joao", ["João Gonçalves"]), ("JOAO", ["João Gonçalves"]), ("gonçalves", ["João Gonçalves"]),
    ("goncalves joao", ["João Gonçalves"]), ("stefan", ["Ștefan Dumitru", "Ştefania Rusu"]),
    ("Ştefan", ["Ștefan Dumitru", "Ştefania Rusu"]), ("ștefania", ["Ştefania Rusu"]),
    ("braescu", ["Mihai Brăescu"]), ("Mihai Brăescu", ["Mihai Brăescu"]), ("BRĂESCU", ["Mihai Brăescu"]),
    ("ЁЛКИН", ["Пётр Ёлкин"]), ("ёлкин", ["Пётр Ёлкин"]), ("елкин", ["Пётр Ёлкин"]), ("петр", ["Пётр Ёлкин"]),
    ("conceicao", ["Inês Conceição"]), ("INES", ["Inês Conceição"]), ("йошкин", ["Андрей Йошкин"]),
    ("jo", ["Joana Dias", "João Gonçalves"]), ("\u0301", []),  # a lone accent finds nobody, not everybody
]


def _people(rep):
    for first, last in PEOPLE:
        f.lead(rep, contact_obj=f.contact(first_name=first, last_name=last))


@pytest.mark.parametrize(("query", "found"), QUERIES)
def test_api_search_ignores_accents_and_case(client, db_session, query, found):
    rep = f.user(Role.REP, f.team())
    _people(rep)
    names = [c["full_name"] for c in Api(client, rep).get("/contacts", q=query).json["items"]]
    assert sorted(names) == sorted(found), query


def test_contact_and_lead_pages_find_folded_names(client, db_session):
    rep = f.user(Role.REP, f.team())
    _people(rep)
    client.post("/login", data={"email": rep.email, "password": f.PASSWORD})
    contacts = client.get("/contacts", query_string={"q": "braescu"}).data.decode()
    assert "Brăescu" in contacts and "Gonçalves" not in contacts
    leads = client.get("/leads", query_string={"q": "елкин"}).data.decode()
    assert "Ёлкин" in leads and "Brăescu" not in leads


def test_every_write_path_keeps_the_key(client, db_session, tmp_path):
    rep = f.user(Role.REP, f.team())
    api = Api(client, rep)
    made = api.post("/contacts", {"first_name": "Ion", "last_name": "Brăescu", "email": "ion@example.ro"})
    assert made.status_code == 201, made.json
    changed = api.patch(f"/contacts/{made.json['id']}", {"last_name": "Ţăranu"})
    assert changed.status_code == 200, changed.json
    assert db.session.get(Contact, made.json["id"]).search_name == "ion taranu"

    contact = f.contact(first_name="Zoë", last_name="Almeida")
    update_contact(contact, actor=rep, first_name="Zóe")
    db.session.flush()
    assert db.session.scalar(select(Contact.search_name).where(Contact.id == contact.id)) == "zoe almeida"
    erase_contact(contact, actor=f.user(Role.ADMIN))
    db.session.flush()
    assert db.session.scalar(select(Contact.search_name).where(Contact.id == contact.id)) == \
        f"erased contact #{contact.id}"

    # A Core INSERT, as the webhook and benchmark paths write contacts
    db.session.execute(sa.insert(Contact), [{"first_name": "Olga", "last_name": "Ёжикова", "timezone": "UTC",
                                             "locale": "ru"}])
    assert db.session.scalar(select(Contact.search_name).where(Contact.first_name == "Olga")) == "olga ежикова"

    # The CSV import's bulk path (COPY on PostgreSQL)
    path = tmp_path / "people.csv"
    path.write_text("First Name,Last Name,Email\nInês,Gonçalves,ines@example.pt\nŞerban,Ţiriac,s@example.ro\n",
                    encoding="utf-8")
    sniffed = imports.sniff(str(path))
    rows = list(imports.iter_rows(str(path), sniffed.encoding, sniffed.delimiter))
    result = imports.import_batch(rows, sniffed.mapping, actor=rep, team_id=rep.team_id, lookups=imports.Lookups())
    assert not result.rejected, result.rejected
    keys = db.session.scalars(select(Contact.search_name).where(Contact.email.in_(["ines@example.pt", "s@example.ro"]))
                              .order_by(Contact.email)).all()
    assert keys == ["ines goncalves", "serban tiriac"]
    assert [c["full_name"] for c in api.get("/contacts", q="tiriac").json["items"]] == ["Şerban Ţiriac"]


def _migration():
    path = next((ROOT / "migrations" / "versions").glob("*-0015_contacts_search_name.py"))
    spec = importlib.util.spec_from_file_location("migration_0015", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_migration_backfills_every_contact_in_batches(db_session, monkeypatch):
    migration = _migration()
    monkeypatch.setattr(migration, "BATCH", 2)  # several batches over a handful of rows
    people = [f.contact(first_name=first, last_name=last) for first, last in PEOPLE]
    ids = [p.id for p in people]
    db.session.execute(sa.update(Contact).where(Contact.id.in_(ids)).values(search_name=""))
    migration._backfill(db.session.connection())
    keys = dict(db.session.execute(select(Contact.id, Contact.search_name).where(Contact.id.in_(ids))).all())
    assert keys == {p.id: name_key(p.first_name, p.last_name) for p in people}
