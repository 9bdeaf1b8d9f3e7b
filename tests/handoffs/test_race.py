"""Two hand-offs of one lead at the same moment, on two connections: exactly one wins, the other is told why.

The second one's check runs while the first is written but not committed, so only the database's
unique index (one open hand-off per lead) can stop it. On SQLite the write lock already queues them.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from crm.audit.models import AuditEvent
from crm.auth.models import Role
from crm.email.models import OutboundEmail
from crm.errors import Conflict
from crm.extensions import db
from crm.handoffs import service
from crm.handoffs.models import Handoff
from tests import factories as f
from tests.conftest import fresh_app_on
from tests.handoffs.conftest import FULL


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_app(request, tmp_path):
    with fresh_app_on(request.param, tmp_path) as app:
        yield app


def test_two_hand_offs_at_once_make_exactly_one(fresh_app, monkeypatch):
    with fresh_app.app_context():
        team = f.team("Race")
        rep = f.user(Role.REP, team)
        fields = [f.user(Role.FIELD, team), f.user(Role.FIELD, team)]
        lead_id, rep_id, field_ids = f.lead(rep).id, rep.id, [u.id for u in fields]
        db.session.commit()

    first_written = threading.Event()
    outcomes: dict[str, object] = {}
    seen: dict[str, list[bool]] = {"first": [], "second": []}
    check = service.open_handoff

    def spy(lead):
        found = check(lead)
        seen[threading.current_thread().name].append(found is not None)
        return found

    monkeypatch.setattr(service, "open_handoff", spy)

    def hand(name: str, field_id: int, hold: bool):
        with fresh_app.app_context():
            try:
                from crm.auth.models import User
                from crm.leads.models import Lead

                if not hold:
                    first_written.wait(10)
                handoff = service.hand_off(db.session.get(Lead, lead_id), actor=db.session.get(User, rep_id),
                                           qualification=FULL, to_user_id=field_id)
                if hold:
                    first_written.set()
                    time.sleep(0.5)  # the other one checks, inserts and waits on the index meanwhile
                db.session.commit()
                outcomes[name] = handoff.id
            except Conflict as exc:
                db.session.rollback()
                outcomes[name] = exc
            except Exception as exc:  # surfaced by the assertions below
                db.session.rollback()
                outcomes[name] = exc
                first_written.set()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=hand, args=("first", field_ids[0], True), name="first"),
               threading.Thread(target=hand, args=("second", field_ids[1], False), name="second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert isinstance(outcomes["first"], int), outcomes
    assert isinstance(outcomes["second"], Conflict) and outcomes["second"].code == "handoff_open", outcomes
    if fresh_app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # PostgreSQL: the second's check saw nothing (uncommitted); the unique index refused its insert.
        assert seen["second"] == [False, True]
    else:
        # SQLite: BEGIN IMMEDIATE queued the second behind the first, so its check already saw it.
        assert seen["second"] == [True]
    with fresh_app.app_context():
        assert db.session.scalars(select(Handoff.to_user_id)).all() == [field_ids[0]]
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "handoff.submitted")) == 1
        assert db.session.scalar(select(func.count()).select_from(OutboundEmail)) == 1
