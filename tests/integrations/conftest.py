"""Integrations and signed posts for the webhook tests."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from crm.integrations import service
from crm.integrations.models import IntegrationChannel
from crm.integrations.signing import INTEGRATION_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def make_integration(channel=IntegrationChannel.CALLS, team=None, name=None):
    created = service.create_integration(name=name or f"{channel.value} system {time.monotonic_ns()}",
                                         channel=channel, team_id=team.id if team else None, actor=None)
    return created.integration


def signed_headers(integration, body: bytes, *, secret: str | None = None, timestamp: int | None = None) -> dict:
    ts = int(time.time()) if timestamp is None else timestamp
    return {"Content-Type": "application/json", INTEGRATION_HEADER: str(integration.id), TIMESTAMP_HEADER: str(ts),
            SIGNATURE_HEADER: sign(secret or integration.secret, ts, body)}


def post_signed(client, integration, events, *, path: str | None = None, **kw):
    body = json.dumps({"events": events}).encode() if not isinstance(events, bytes) else events
    path = path or f"/webhooks/{integration.channel.value}"
    return client.post(path, data=body, headers=signed_headers(integration, body, **kw))


def post_calls_from_thread(app, integration_id: int, secret: str, events: list) -> int:
    """post_signed from a worker thread of a concurrency test (its own app context and client, no ORM object
    shared across threads): the answer's status code."""
    with app.app_context():
        integration = type("Integration", (), {"id": integration_id, "secret": secret})
        return post_signed(app.test_client(), integration, events, path="/webhooks/calls").status_code


def call_event(kind: str, call_id: str = "call-1", at: datetime = T0, **fields) -> dict:
    event = {"event_id": f"{call_id}-{kind}", "type": kind, "call_id": call_id, "occurred_at": at.isoformat()}
    event.update(fields)
    return event


@pytest.fixture
def calls_integration(db_session):
    from tests import factories as f

    return make_integration(IntegrationChannel.CALLS, team=f.team("Inbound"))
