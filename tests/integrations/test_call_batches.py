"""Batches of call events (issue 9, 500 events/s): a post is applied set-based, with the rules of single events.

One batch mixing duplicates, events of one call in the wrong order, a call still waiting for its
queued event, a new caller calling twice and a known caller; the statements a post costs do not
grow with its calls; and racing batches with new callers and one known caller's lead never deadlock.
"""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import time_machine
from flask import request_finished, request_started
from sqlalchemy import event, func, select

from crm.auth.models import Role, Team, User
from crm.contacts.models import Contact
from crm.extensions import db
from crm.integrations import service
from crm.integrations.models import InboundEvent, IntegrationChannel, ScreenPop
from crm.leads.models import Lead, Stage
from crm.touches.models import Outcome, Touch
from tests import factories as f
from tests.integrations.conftest import T0, call_event, post_calls_from_thread, post_signed
from tests.integrations.test_concurrent_delivery import own_app  # noqa: F401 (fixture)

NOW = T0 + timedelta(minutes=30)
NEW = "+351912000777"
KNOWN = "+351912000888"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _at(seconds: int):
    return T0 + timedelta(seconds=seconds)


def test_one_batch_mixing_duplicates_disorder_waiting_calls_and_a_new_caller(client, db_session, calls_integration):
    rep = f.user(team=calls_integration.team)  # the new lead's round-robin owner
    agent = f.user(email="agent.batch@example.com")
    gone = f.user(email="gone@example.com", active=False)
    known = f.contact(phone=KNOWN)
    known_lead = f.lead(contact_obj=known)
    earlier = [call_event("queued", "pre", _at(0), ani=KNOWN), call_event("ended", "late", _at(90))]
    assert post_signed(client, calls_integration, earlier).json == {
        "applied": 1, "duplicates": 0, "pending": 1, "touch_ids": [db_session.scalars(select(Touch.id)).one()]}

    ended_1 = call_event("ended", "c1", _at(200), talk_seconds=150)
    batch = [
        ended_1,  # c1 (a new number): ended, answered, then queued
        call_event("answered", "c1", _at(20), agent_email="AGENT.BATCH@example.com"),
        call_event("queued", "c1", _at(0), ani="00351 912 000 777"),
        ended_1,  # the same event twice in the batch
        call_event("queued", "c2", _at(5), ani=NEW),  # the new number again, in another call
        call_event("answered", "c3", _at(12), agent_id=agent.id),  # a known caller, answered, still talking
        call_event("queued", "c3", _at(1), ani=KNOWN),
        earlier[0],  # delivered before: a duplicate
        call_event("answered", "pre", _at(9), agent_email="gone@example.com"),  # an inactive user: no agent
        call_event("queued", "late", _at(3), ani=KNOWN),  # opens the call whose ended waited
        call_event("abandoned", "lonely", _at(40)),  # no queued yet: waits
    ]
    report = post_signed(client, calls_integration, batch).json
    assert (report["applied"], report["duplicates"], report["pending"]) == (9, 2, 1)

    touches = {t.external_id: t for t in db_session.scalars(select(Touch))}
    assert set(touches) == {"pre", "late", "c1", "c2", "c3"}
    assert sorted(report["touch_ids"]) == sorted(touches[k].id for k in ("pre", "late", "c1", "c2", "c3"))
    c1, c2, c3 = touches["c1"], touches["c2"], touches["c3"]
    assert (c1.outcome, c1.user_id, c1.queue_seconds, c1.talk_seconds, c1.ended_at) == (
        Outcome.CONNECTED, agent.id, 20, 150, _at(200))
    new_contacts = db_session.scalars(select(Contact).where(Contact.phone == NEW)).all()
    assert len(new_contacts) == 1 and c1.contact_id == c2.contact_id == new_contacts[0].id
    new_leads = db_session.scalars(select(Lead).where(Lead.contact_id == new_contacts[0].id)).all()
    assert len(new_leads) == 1 and c1.lead_id == c2.lead_id == new_leads[0].id
    assert new_leads[0].stage == Stage.DISCOVER and new_leads[0].owner_id == rep.id
    assert (c3.contact_id, c3.lead_id, c3.user_id, c3.outcome) == (known.id, known_lead.id, agent.id,
                                                                    Outcome.CONNECTED)
    assert touches["pre"].user_id is None and gone.id is not None and touches["pre"].answered_at == _at(9)
    assert (touches["late"].contact_id, touches["late"].outcome, touches["late"].queue_seconds) == (
        known.id, Outcome.ABANDONED, 87)
    # Only the call answered and not yet over pops, for its agent.
    assert [(p.user_id, p.touch_id) for p in db_session.scalars(select(ScreenPop))] == [(agent.id, c3.id)]
    waiting = db_session.scalars(select(InboundEvent.event_id).where(InboundEvent.processed_at.is_(None))).all()
    assert waiting == ["lonely-abandoned"]
    assert db_session.scalar(select(func.count()).select_from(InboundEvent)) == 2 + len(batch) - 2

    again = post_signed(client, calls_integration, batch).json  # the whole batch redelivered: nothing changes
    assert (again["applied"], again["duplicates"], again["pending"]) == (0, len(batch), 0)
    assert db_session.scalar(select(func.count()).select_from(ScreenPop)) == 1


def _statements(client, integration, events) -> Counter:
    """The statements the request sends (between Flask's request signals, so not the test's own), by kind."""
    seen: Counter = Counter()
    inside = False

    def started(*_args, **_kw):
        nonlocal inside
        inside = True

    def finished(*_args, **_kw):
        nonlocal inside
        inside = False

    def counted(_conn, _cursor, statement, *_args):
        if inside:
            words = statement.split()[:3]
            seen[" ".join(words[:words.index("SAVEPOINT") + 1] if "SAVEPOINT" in words else words)] += 1

    event.listen(db.engine, "before_cursor_execute", counted)
    request_started.connect(started)
    request_finished.connect(finished)
    try:
        assert post_signed(client, integration, events).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", counted)
        request_started.disconnect(started)
        request_finished.disconnect(finished)
    return seen


def _set_based(counts: Counter, database) -> Counter:
    """SQLite's driver cannot return the ids of a multi-row INSERT in order, so SQLAlchemy inserts the
    new touches one by one there (in-process, no round trip); PostgreSQL gets one INSERT."""
    if database.kind == "sqlite":
        return Counter({kind: n for kind, n in counts.items() if kind != "INSERT INTO touches"})
    return counts


def _call(n: int, kinds=("queued", "answered", "ended")) -> list[dict]:
    fields = {"queued": {"ani": f"+35191300{n:04d}"}, "answered": {"agent_email": "agent.count@example.com"},
              "ended": {"talk_seconds": 60}}
    return [call_event(kind, f"count-{n}", _at(10 * n + i), **fields[kind]) for i, kind in enumerate(kinds)]


def test_a_post_costs_the_same_statements_for_ten_calls_as_for_one(client, db_session, calls_integration, database):
    f.user(email="agent.count@example.com")
    for n in range(11):
        f.contact(phone=f"+35191300{n:04d}")
    one = _statements(client, calls_integration, _call(0, ("queued", "answered")))
    ten = _statements(client, calls_integration, [e for n in range(1, 11) for e in _call(n, ("queued", "answered"))])
    assert one["INSERT INTO touches"] == 1 and one["INSERT INTO screen_pops"] == 1
    # nothing is looked up, inserted or updated once per event or per call
    assert _set_based(ten, database) == _set_based(one, database)
    # Closing them (an UPDATE of each touch, sent as one executemany) costs the same for one or ten.
    closing_one = _statements(client, calls_integration, _call(0, ("ended",)))
    closing_ten = _statements(client, calls_integration, [e for n in range(1, 11) for e in _call(n, ("ended",))])
    assert closing_one["UPDATE touches SET"] == 1 and closing_ten == closing_one
    assert db_session.scalar(select(func.count()).select_from(Touch).where(Touch.outcome == Outcome.CONNECTED)) == 11


def test_racing_batches_of_new_callers_and_one_known_callers_lead_never_deadlock(own_app, database):  # noqa: F811
    with own_app.app_context():
        team = Team(name="Batch race")
        db.session.add(team)
        db.session.flush()
        for n in range(3):
            db.session.add(User(email=f"batch{n}@example.com", name=f"Batch {n}", role=Role.REP, team_id=team.id,
                                password_hash="x"))
        known = Contact(first_name="Known", last_name="Caller", phone=KNOWN, timezone="UTC")
        db.session.add(known)
        db.session.flush()
        from crm.leads.service import create_lead

        create_lead(known, actor=None, team_id=team.id)
        integration = service.create_integration(name="Batch ACD", channel=IntegrationChannel.CALLS,
                                                 team_id=team.id, actor=None).integration
        db.session.commit()
        integration_id, secret = integration.id, integration.secret
    calls = 24
    events = []
    for n in range(calls):  # every other call is the known caller (one lead, updated by many posts)
        number = KNOWN if n % 2 else f"+35191400{n:04d}"
        events += [call_event("queued", f"br-{n}", _at(n), ani=number),
                   call_event("answered", f"br-{n}", _at(n + 8)),
                   call_event("ended", f"br-{n}", _at(n + 100), talk_seconds=50)]
    posts = events + random.Random(3).sample(events, 20)
    random.Random(5).shuffle(posts)
    batches = [posts[i:i + 8] for i in range(0, len(posts), 8)]

    def post(batch):
        return post_calls_from_thread(own_app, integration_id, secret, batch)

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(post, batches))
    assert set(statuses) == {200}
    with own_app.app_context():
        touches = db.session.scalars(select(Touch).where(Touch.external_id.like("br-%"))).all()
        assert len(touches) == calls
        assert {(t.outcome, t.queue_seconds, t.talk_seconds) for t in touches} == {(Outcome.CONNECTED, 8, 50)}
        assert db.session.scalar(select(func.count()).select_from(InboundEvent)) == 3 * calls
        assert db.session.scalar(select(func.count()).select_from(InboundEvent)
                                 .where(InboundEvent.processed_at.is_(None))) == 0
        assert db.session.scalar(select(func.count()).select_from(Lead)) == 1 + calls // 2
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 1 + calls // 2
        known_touches = [t for t in touches if int(t.external_id.split("-")[1]) % 2]
        assert len({t.lead_id for t in known_touches}) == 1 and known_touches[0].lead_id is not None
