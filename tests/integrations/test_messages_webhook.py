"""POST /webhooks/chat and /webhooks/social: one touch per message, threaded per conversation."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from crm.contacts.models import Contact, ContactHandle
from crm.integrations.models import IntegrationChannel
from crm.leads.models import Lead, Stage
from crm.touches.models import Channel, Direction, Outcome, Touch
from tests import factories as f
from tests.integrations.conftest import T0, make_integration, post_signed


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        yield


def message(event_id, conversation="conv-1", direction="inbound", handle="@Ana.Silva", platform="instagram",
            text="Hello", at=T0, **more):
    return {"event_id": event_id, "conversation_id": conversation, "direction": direction, "handle": handle,
            "platform": platform, "text": text, "occurred_at": at.isoformat(), **more}


@pytest.fixture
def social(db_session):
    return make_integration(IntegrationChannel.SOCIAL, team=f.team("Social desk"))


def test_new_conversation_from_unknown_handle_creates_contact_handle_and_lead(client, db_session, social):
    response = post_signed(client, social, [message("m1", name="Ana Silva")])
    assert response.status_code == 200 and response.json["applied"] == 1
    touch = db_session.scalars(select(Touch)).one()
    assert touch.channel == Channel.SOCIAL and touch.outcome == Outcome.RECEIVED and touch.body == "Hello"
    assert (touch.conversation_id, touch.platform, touch.handle) == ("conv-1", "instagram", "ana.silva")
    assert touch.contact.full_name == "Ana Silva"
    assert [(h.platform, h.handle) for h in touch.contact.handles] == [("instagram", "ana.silva")]
    assert touch.lead.stage == Stage.DISCOVER and touch.lead.team_id == social.team_id


def test_messages_of_one_conversation_thread_onto_one_contact_and_lead(client, db_session, social):
    agent = f.user(email="social.agent@example.com")
    post_signed(client, social, [message("m1")])
    post_signed(client, social, [message("m2", direction="outbound", text="Hi Ana", at=T0 + timedelta(minutes=1),
                                         agent_email="social.agent@example.com")])
    post_signed(client, social, [message("m3", text="Price?", at=T0 + timedelta(minutes=2))])
    touches = db_session.scalars(select(Touch).order_by(Touch.occurred_at)).all()
    assert [t.outcome for t in touches] == [Outcome.RECEIVED, Outcome.SENT, Outcome.REPLIED]
    assert len({(t.contact_id, t.lead_id, t.conversation_id) for t in touches}) == 1
    assert touches[1].user_id == agent.id and touches[1].direction == Direction.OUTBOUND
    assert db_session.scalar(select(func.count()).select_from(Lead)) == 1


def test_known_handle_in_a_new_conversation_lands_on_that_contact(client, db_session, social):
    contact = f.contact()
    contact.handles.append(ContactHandle(platform="instagram", handle="ana.silva"))
    lead = f.lead(contact_obj=contact)
    post_signed(client, social, [message("m1", conversation="conv-9", handle="ANA.SILVA")])
    touch = db_session.scalars(select(Touch)).one()
    assert (touch.contact_id, touch.lead_id) == (contact.id, lead.id)
    assert db_session.scalar(select(func.count()).select_from(Contact)) == 1


def test_chat_messages_are_chat_touches(client, db_session):
    chat = make_integration(IntegrationChannel.CHAT)
    post_signed(client, chat, [message("w1", platform="webchat", handle="visitor-42")])
    touch = db_session.scalars(select(Touch)).one()
    assert touch.channel == Channel.CHAT and touch.provider == f"integration:{chat.id}"


def test_redelivered_message_changes_nothing(client, db_session, social):
    post_signed(client, social, [message("m1")])
    again = post_signed(client, social, [message("m1"), message("m1")])
    assert again.status_code == 200 and again.json["duplicates"] == 2 and again.json["applied"] == 0
    assert db_session.scalar(select(func.count()).select_from(Touch)) == 1


def test_a_social_integration_cannot_post_chat(client, db_session, social):
    assert post_signed(client, social, [message("m1")], path="/webhooks/chat").status_code == 401


@pytest.mark.parametrize(("change", "path"), [
    ({"conversation_id": ""}, "events.0.conversation_id"),
    ({"direction": "sideways"}, "events.0.direction"),
    ({"platform": "in sta"}, "events.0.platform"),
    ({"text": 5}, "events.0.text"),
    ({"handle": None}, "events.0.handle"),
])
def test_bad_messages_are_422_with_their_path(client, db_session, social, change, path):
    response = post_signed(client, social, [message("m1") | change])
    assert response.status_code == 422 and path in response.json["error"]["fields"]
    assert db_session.scalar(select(func.count()).select_from(Touch)) == 0
