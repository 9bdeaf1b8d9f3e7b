"""Many workers at once: every event of every call applied once, whatever interleaving.

Real committed transactions on their own database (not the rolled-back test transaction),
posted from threads, so two requests about one call really do race.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from crm.auth.models import Role, Team, User
from crm.extensions import db
from crm.integrations import service
from crm.integrations.models import InboundEvent, IntegrationChannel
from crm.leads.models import Lead
from crm.touches.models import Outcome, Touch
from tests.conftest import Database, make_app
from tests.integrations.conftest import post_calls_from_thread

CALLS = 25
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def own_app(database, tmp_path):
    own = Database(database.kind, tmp_path)
    app = make_app(own)
    yield app
    with app.app_context():
        db.engine.dispose()
    own.drop()


def _events(n: int) -> list[dict]:
    call_id, at = f"race-{n}", T0 + timedelta(minutes=n)
    number = f"+3519120{n:05d}"
    return [
        {"event_id": f"{call_id}-q", "type": "queued", "call_id": call_id, "occurred_at": at.isoformat(), "ani": number},
        {"event_id": f"{call_id}-a", "type": "answered", "call_id": call_id,
         "occurred_at": (at + timedelta(seconds=7)).isoformat()},
        {"event_id": f"{call_id}-e", "type": "ended", "call_id": call_id,
         "occurred_at": (at + timedelta(seconds=90)).isoformat(), "talk_seconds": 80, "wrap_seconds": 5},
        # the same number calls twice at once: still one contact
        {"event_id": f"{call_id}-q2", "type": "queued", "call_id": call_id + "-b", "occurred_at": at.isoformat(),
         "ani": number},
    ]


def test_racing_posts_apply_every_event_once(own_app, database):
    with own_app.app_context():
        team = Team(name="Racing team")
        db.session.add(team)
        db.session.flush()
        for n in range(3):  # new leads go round-robin to these, under the team's row lock
            db.session.add(User(email=f"racer{n}@example.com", name=f"Racer {n}", role=Role.REP, team_id=team.id,
                                password_hash="x"))
        integration = service.create_integration(name="Racing ACD", channel=IntegrationChannel.CALLS,
                                                 team_id=team.id, actor=None).integration
        db.session.commit()
        integration_id, secret = integration.id, integration.secret
    posts = [event for n in range(CALLS) for event in _events(n)]
    posts += random.Random(9).sample(posts, 30)  # redeliveries, racing the originals
    random.Random(4).shuffle(posts)
    batches = [posts[i:i + 3] for i in range(0, len(posts), 3)]  # several new leads per transaction

    def post(events):
        return post_calls_from_thread(own_app, integration_id, secret, events)

    with time_machine.travel(T0 + timedelta(hours=1)), ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(post, batches))
    assert set(statuses) == {200}
    with own_app.app_context():
        touches = db.session.scalars(select(Touch).where(Touch.external_id.like("race-%"))).all()
        assert len(touches) == 2 * CALLS
        full = [t for t in touches if not t.external_id.endswith("-b")]
        assert {(t.outcome, t.queue_seconds, t.talk_seconds, t.wrap_seconds) for t in full} == {
            (Outcome.CONNECTED, 7, 80, 5)}
        assert all(t.contact_id == next(u for u in touches if u.external_id == t.external_id + "-b").contact_id
                   for t in full)
        assert db.session.scalar(select(func.count()).select_from(InboundEvent)) == 4 * CALLS
        assert db.session.scalar(select(func.count()).select_from(Lead)) == CALLS  # one per new number
        assert db.session.scalar(select(func.count()).select_from(InboundEvent)
                                 .where(InboundEvent.processed_at.is_(None))) == 0
