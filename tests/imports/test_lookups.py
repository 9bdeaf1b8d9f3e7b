"""Finding the people of a batch that already exist: by email or phone, through the b-tree indexes."""

from __future__ import annotations

from sqlalchemy import text

from crm.db import exact_index_lookups
from crm.imports import service
from tests import factories as f


def _setting(db_session, name):
    return db_session.scalar(text("SELECT current_setting(:n)"), {"n": name})


def _good(*people):
    return [(n, {"person": {"email": email, "phone": phone}}) for n, (email, phone) in enumerate(people, start=2)]


def test_existing_people_are_found_by_email_or_phone_and_the_oldest_record_wins(db_session):
    first = f.contact(email="ana@example.pt", phone="+351912345678")
    f.contact(email="ana.two@example.pt", phone="+351912345678")  # a duplicate that slipped in: not chosen
    by_phone = f.contact(email=None, phone="+40722123456")
    gone = f.contact(email="gone@example.pt", phone=None)
    gone.merged_into_id = first.id
    db_session.flush()
    index = service._existing_contacts(_good(("ana@example.pt", None), (None, "+351912345678"),
                                             (None, "+40722123456"), ("gone@example.pt", None), ("new@example.pt", None)))
    assert index["e:ana@example.pt"] == first.id and index["p:+351912345678"] == first.id
    assert index["p:+40722123456"] == by_phone.id
    assert "e:gone@example.pt" not in index and "e:new@example.pt" not in index


def test_email_match_ignores_case_of_the_stored_address(db_session):
    stored = f.contact(email="Rui.Costa@Example.PT", phone=None)
    assert service._existing_contacts(_good(("rui.costa@example.pt", None))) == {"e:rui.costa@example.pt": stored.id}


def test_index_lookups_turn_scans_off_only_inside_the_block(db_session, dialect):
    if dialect == "sqlite":
        with exact_index_lookups(db_session):
            assert db_session.scalar(text("SELECT 1")) == 1  # nothing to set on SQLite
        return
    before = _setting(db_session, "enable_seqscan"), _setting(db_session, "enable_bitmapscan")
    with exact_index_lookups(db_session):
        assert (_setting(db_session, "enable_seqscan"), _setting(db_session, "enable_bitmapscan")) == ("off", "off")
        plan = "\n".join(db_session.scalars(text(
            "EXPLAIN SELECT id FROM contacts WHERE lower(email) IN ('a@example.pt', 'b@example.pt', 'c@example.com')")))
        assert "ix_contacts_lower_email" in plan and "trgm" not in plan
    assert (_setting(db_session, "enable_seqscan"), _setting(db_session, "enable_bitmapscan")) == before
