"""Contacts' names in any script sort as people expect and are found whatever their case."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.api.pagination import page_by_name
from crm.auth.models import Role
from crm.contacts.models import Contact
from crm.contacts.views import SORT_NAME, sort_name_of
from crm.db import collated, unicode_sort_key
from crm.extensions import db
from tests import factories as f

NAMES = ["Zoë Almeida", "Álvaro Reis", "ana Costa", "Ana Sousa", "Ștefan Popa", "Stefan Ionescu", "Țurcanu Ion",
         "Tudor Rusu", "Иван Петров", "Анна Смирнова", "Яна Орлова", "山田 太郎", "佐藤 花子", "Çelik Ahmet",
         "Carlos Santos", "João Pereira", "Joana Dias", "Émile Martin", "Eva Lima", "Öztürk Ali", "Oscar Silva"]
# The Unicode Collation Algorithm's root order (what ICU's "und" and pyuca both give): accents and
# case only break ties, Latin before Cyrillic before Han.
EXPECTED = ["Álvaro Reis", "ana Costa", "Ana Sousa", "Carlos Santos", "Çelik Ahmet", "Émile Martin", "Eva Lima",
            "Joana Dias", "João Pereira", "Oscar Silva", "Öztürk Ali", "Stefan Ionescu", "Ștefan Popa", "Tudor Rusu",
            "Țurcanu Ion", "Zoë Almeida", "Анна Смирнова", "Иван Петров", "Яна Орлова", "佐藤 花子", "山田 太郎"]


def _people():
    for full in NAMES:
        first, last = full.split(" ")
        f.contact(first_name=first, last_name=last, timezone="UTC")
    return select(Contact).where(Contact.first_name.in_([n.split(" ")[0] for n in NAMES]))


def test_database_sorts_names_in_unicode_order(db_session):
    stmt = _people()
    rows = db_session.scalars(stmt.order_by(collated(SORT_NAME, db_session), Contact.id)).all()
    assert [c.full_name for c in rows] == EXPECTED


def test_python_sort_key_agrees_with_the_database(db_session):
    assert sorted(NAMES, key=unicode_sort_key) == EXPECTED


def test_name_pages_follow_on_without_gaps_or_repeats(db_session):
    stmt = _people()
    seen, cursor = [], None
    while True:
        rows, cursor = page_by_name(stmt, SORT_NAME, Contact.id, sort_name_of, cursor=cursor, limit=4, session=db.session)
        seen += [c.full_name for c in rows]
        if cursor is None:
            break
    assert seen == EXPECTED


def test_contact_list_sorted_by_name_on_the_page(client, db_session):
    admin = f.user(Role.ADMIN)
    _people()
    client.post("/login", data={"email": admin.email, "password": f.PASSWORD})
    page = client.get("/contacts?sort=name").data.decode()
    positions = [page.index(name) for name in EXPECTED]
    assert positions == sorted(positions)
    assert client.get("/contacts?sort=name&cursor=bm90IG91cnM").status_code == 200  # a bad cursor starts over


def test_a_name_cursor_from_elsewhere_is_refused(db_session):
    from crm.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        page_by_name(_people(), SORT_NAME, Contact.id, sort_name_of, cursor="aWQ6MTI", limit=4, session=db.session)


@pytest.mark.parametrize(("query", "found"), [
    ("иван", "Иван Петров"), ("ПЕТРОВ", "Иван Петров"), ("山田", "山田 太郎"), ("ștefan", "Ștefan Popa"),
    ("ȚURCANU", "Țurcanu Ion"), ("joão", "João Pereira"), ("ÇELIK", "Çelik Ahmet"), ("öztürk", "Öztürk Ali"),
])
def test_search_folds_case_in_every_script(client, db_session, query, found):
    admin = f.user(Role.ADMIN)
    _people()
    client.post("/login", data={"email": admin.email, "password": f.PASSWORD})
    page = client.get("/contacts", query_string={"q": query}).data.decode()
    assert found in page
    assert "Ana Sousa" not in page


def test_name_order_index_exists_on_postgresql_and_serves_the_list(database, db_session):
    if database.kind != "postgresql":
        pytest.skip("SQLite sorts names with the collation registered per connection; it has no ICU index")
    with database.engine.connect() as connection:
        names = set(connection.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'contacts'").scalars())
    assert "icu_contacts_name_order" in names
    key = collated(SORT_NAME, db_session)
    stmt = select(Contact.id).order_by(key, Contact.id).limit(51)
    compiled = stmt.compile(db_session.get_bind())
    connection = db_session.connection()
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a tiny table: make the planner show its choice
    plan = "\n".join(connection.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).scalars())
    assert "icu_contacts_name_order" in plan
