"""Twenty reps pressing Next lead at once never get the same lead.

Each claimant is a thread with its own app context, session and database connection,
against committed data in a fresh database: FOR UPDATE SKIP LOCKED on PostgreSQL,
the write transaction on SQLite.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from crm.auth.models import Role, Team, User
from crm.contacts.models import Contact
from crm.extensions import db
from crm.leads.models import Lead
from crm.leads.service import create_lead
from crm.queue.service import claim_next, log_outcome
from tests.conftest import fresh_app_on

CLAIMANTS = 20
POOL = 120


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_app(request, tmp_path):
    with fresh_app_on(request.param, tmp_path, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": CLAIMANTS + 2, "max_overflow": 0}) as app:
        yield app


def _seed(app) -> list[int]:
    with app.app_context():
        team = Team(name="Porto", pool_mode=True)
        db.session.add(team)
        reps = [User(email=f"rep{n}@example.com", name=f"Rep {n}", role=Role.REP, team=team, password_hash="!")  # noqa: S106
                for n in range(CLAIMANTS)]
        db.session.add_all(reps)
        db.session.flush()
        for n in range(POOL):
            contact = Contact(first_name=f"P{n}", timezone="Europe/Lisbon")
            db.session.add(contact)
            db.session.flush()
            create_lead(contact, actor=None, owner=None, team_id=team.id)
        db.session.commit()
        return [r.id for r in reps]


def test_twenty_concurrent_claimants_never_get_the_same_lead(fresh_app):
    rep_ids = _seed(fresh_app)
    claims: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(CLAIMANTS)

    def claimant(rep_id: int):
        try:
            with fresh_app.app_context():
                rep = db.session.get(User, rep_id)
                db.session.commit()  # SQLite: do not hold the write lock while waiting for the others
                start.wait()
                while True:
                    claim = claim_next(rep)
                    if claim is None:
                        db.session.commit()
                        break
                    db.session.commit()  # the claim is visible to everyone from here
                    with lock:
                        claims.append((claim.lead.id, rep_id))
                    log_outcome(rep, claim.lead, outcome="no_answer", had_lease=True)
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=claimant, args=(rep_id,)) for rep_id in rep_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    per_lead = Counter(lead_id for lead_id, _ in claims)
    assert len(per_lead) == POOL and set(per_lead.values()) == {1}
    assert len({rep for _, rep in claims}) > 1  # the work was really shared
    with fresh_app.app_context():
        owners = dict(db.session.execute(select(Lead.id, Lead.owner_id)).all())
        assert all(owners[lead_id] == rep for lead_id, rep in claims)
        assert db.session.scalar(select(func.count()).select_from(Lead).where(Lead.claimed_by_id.is_not(None))) == 0


def test_the_claim_skips_locked_rows_only_on_postgresql(fresh_app):
    from crm.db import is_postgresql, skip_locked

    with fresh_app.app_context():
        sql = str(skip_locked(select(Lead.id).limit(1), db.session).compile(dialect=db.session.get_bind().dialect))
        assert ("FOR UPDATE SKIP LOCKED" in sql) == is_postgresql(db.session)
