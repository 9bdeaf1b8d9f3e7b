"""POST /webhooks/calls: signature first, then one touch per call id whatever the order of its events."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from crm.contacts.models import Contact
from crm.integrations.calls import inbound_figures
from crm.integrations.models import InboundEvent, ScreenPop
from crm.integrations.service import rotate_secret, set_active
from crm.leads.models import Lead, Stage
from crm.touches.models import Outcome, Touch
from tests import factories as f
from tests.integrations.conftest import T0, call_event, make_integration, post_signed, signed_headers

NOW = T0 + timedelta(minutes=10)
CALLER = "+351912000111"
LINE = "+351210000000"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _counts(db_session):
    return tuple(db_session.scalar(select(func.count()).select_from(m)) for m in (InboundEvent, Touch, Contact, Lead))


def _call_events(agent_email=None, call_id="call-1"):
    return {
        "queued": call_event("queued", call_id, T0, ani=CALLER, dnis=LINE),
        "answered": call_event("answered", call_id, T0 + timedelta(seconds=14), agent_email=agent_email),
        "abandoned": call_event("abandoned", call_id, T0 + timedelta(seconds=30)),
        "ended": call_event("ended", call_id, T0 + timedelta(seconds=200), talk_seconds=150, hold_seconds=20,
                            wrap_seconds=35, recording_url="https://rec.example/1.wav", disposition="connected"),
    }


def _snapshot(touch: Touch) -> dict:
    names = ("outcome", "direction", "queued_at", "answered_at", "ended_at", "occurred_at", "queue_seconds",
             "talk_seconds", "hold_seconds", "wrap_seconds", "ani", "dnis", "recording_url", "user_id", "contact_id",
             "lead_id", "external_id")
    return {name: getattr(touch, name) for name in names}


def test_inbound_call_from_unknown_number_becomes_contact_and_lead_in_discover(client, db_session, calls_integration):
    rep = f.user(team=calls_integration.team)
    response = post_signed(client, calls_integration, [_call_events()["queued"]])
    assert response.status_code == 200
    assert response.json["applied"] == 1
    touch = db_session.scalars(select(Touch)).one()
    assert touch.contact.phone == CALLER and touch.outcome == Outcome.QUEUED
    assert touch.lead.stage == Stage.DISCOVER and touch.lead.team_id == calls_integration.team_id
    assert touch.lead.owner_id == rep.id  # create_lead's round-robin ran
    assert touch.provider == f"integration:{calls_integration.id}" and touch.external_id == "call-1"


def test_inbound_call_from_known_number_lands_on_that_contact_and_open_lead(client, db_session, calls_integration):
    contact = f.contact(phone=CALLER)
    lead = f.lead(contact_obj=contact)
    queued = _call_events()["queued"] | {"ani": "00351 912 000 111"}  # E.164 match, however written
    post_signed(client, calls_integration, [queued])
    touch = db_session.scalars(select(Touch)).one()
    assert (touch.contact_id, touch.lead_id) == (contact.id, lead.id)
    assert db_session.scalar(select(func.count()).select_from(Contact)) == 1


@pytest.mark.parametrize("order", list(itertools.permutations(["queued", "answered", "abandoned", "ended"])),
                         ids="-".join)
def test_every_order_of_the_four_events_gives_the_same_touch(client, db_session, order):
    integration = make_integration(team=f.team())
    agent = f.user(email="agent@example.com")
    events = _call_events(agent_email="agent@example.com")
    reference_events = _call_events(agent_email="agent@example.com", call_id="reference")
    post_signed(client, integration, [reference_events[k] for k in ("queued", "answered", "abandoned", "ended")])
    for kind in order:
        assert post_signed(client, integration, [events[kind]]).status_code == 200
    touches = {t.external_id: t for t in db_session.scalars(select(Touch))}
    assert set(touches) == {"call-1", "reference"}
    got, want = _snapshot(touches["call-1"]), _snapshot(touches["reference"])
    assert {k: v for k, v in got.items() if k != "external_id"} == {k: v for k, v in want.items() if k != "external_id"}
    assert got["user_id"] == agent.id and got["outcome"] == Outcome.CONNECTED and got["queue_seconds"] == 14
    assert db_session.scalar(select(func.count()).select_from(InboundEvent)
                             .where(InboundEvent.processed_at.is_(None))) == 0


def test_events_before_queued_wait_unprocessed_then_apply(client, db_session, calls_integration):
    events = _call_events()
    response = post_signed(client, calls_integration, [events["ended"], events["answered"]])
    assert response.json == {"applied": 0, "duplicates": 0, "pending": 2, "touch_ids": []}
    assert db_session.scalar(select(func.count()).select_from(Touch)) == 0
    waiting = db_session.scalars(select(InboundEvent)).all()
    assert len(waiting) == 2 and all(e.processed_at is None for e in waiting)
    response = post_signed(client, calls_integration, [events["queued"]])
    assert response.json["applied"] == 3
    touch = db_session.scalars(select(Touch)).one()
    assert (touch.talk_seconds, touch.hold_seconds, touch.wrap_seconds) == (150, 20, 35)
    assert touch.recording_url == "https://rec.example/1.wav"


def test_redelivery_answers_200_and_changes_nothing(client, db_session, calls_integration):
    events = list(_call_events().values())
    post_signed(client, calls_integration, events)
    before = _counts(db_session), _snapshot(db_session.scalars(select(Touch)).one())
    again = post_signed(client, calls_integration, events)
    assert again.status_code == 200
    assert again.json["duplicates"] == 4 and again.json["applied"] == 0
    db_session.expire_all()
    assert (_counts(db_session), _snapshot(db_session.scalars(select(Touch)).one())) == before


def test_same_event_twice_in_one_batch_counts_once(client, db_session, calls_integration):
    queued = _call_events()["queued"]
    response = post_signed(client, calls_integration, [queued, queued])
    assert response.json["applied"] == 1 and response.json["duplicates"] == 1


def test_unanswered_inbound_call_that_ends_is_abandoned(client, db_session, calls_integration):
    events = _call_events()
    post_signed(client, calls_integration, [events["queued"], call_event("ended", at=T0 + timedelta(seconds=40))])
    touch = db_session.scalars(select(Touch)).one()
    assert touch.outcome == Outcome.ABANDONED and touch.answered_at is None and touch.queue_seconds == 40


def test_outbound_call_not_answered_is_no_answer_on_the_dialled_contact(client, db_session, calls_integration):
    contact = f.contact(phone="+351913333333")
    post_signed(client, calls_integration, [
        call_event("queued", "out-1", T0, direction="outbound", ani=LINE, dnis="+351913333333"),
        call_event("ended", "out-1", T0 + timedelta(seconds=25), direction="outbound")])
    touch = db_session.scalars(select(Touch)).one()
    assert touch.contact_id == contact.id and touch.outcome == Outcome.NO_ANSWER


def test_answered_by_a_rep_writes_one_screen_pop_for_that_rep(client, db_session, calls_integration):
    rep = f.user(email="rep.pop@example.com")
    events = _call_events(agent_email="REP.POP@example.com")
    post_signed(client, calls_integration, [events["queued"], events["answered"]])
    post_signed(client, calls_integration, [events["answered"] | {"event_id": "again", "hold_seconds": 3}])
    pops = db_session.scalars(select(ScreenPop)).all()
    assert [(p.user_id, p.touch.external_id) for p in pops] == [(rep.id, "call-1")]


def test_no_screen_pop_when_the_answer_arrives_after_the_call_ended(client, db_session, calls_integration):
    f.user(email="late@example.com")
    events = _call_events(agent_email="late@example.com")
    post_signed(client, calls_integration, [events["queued"], events["ended"]])
    post_signed(client, calls_integration, [events["answered"]])
    assert db_session.scalar(select(func.count()).select_from(ScreenPop)) == 0


def test_inbound_figures_from_call_touches(client, db_session, calls_integration):
    def call(call_id, answer_after=None, abandon_after=None):
        evs = [call_event("queued", call_id, T0, ani=CALLER)]
        if answer_after is not None:
            evs.append(call_event("answered", call_id, T0 + timedelta(seconds=answer_after)))
        if abandon_after is not None:
            evs.append(call_event("abandoned", call_id, T0 + timedelta(seconds=abandon_after)))
        evs.append(call_event("ended", call_id, T0 + timedelta(seconds=300)))
        return evs

    post_signed(client, calls_integration, call("a", answer_after=10) + call("b", answer_after=30)
                + call("c", abandon_after=50) + call("d", answer_after=20))
    figures = inbound_figures(T0, T0 + timedelta(hours=1))
    assert (figures.offered, figures.answered, figures.abandoned) == (4, 3, 1)
    assert figures.average_speed_of_answer == 20
    assert figures.service_level == 0.5  # 2 of 4 offered answered within 20 s


# -- refused posts: 401, nothing changed --------------------------------------------------------------


def _body(events=None) -> bytes:
    return json.dumps({"events": events or [_call_events()["queued"]]}).encode()


@pytest.mark.parametrize("mutate", [
    pytest.param(lambda h, i: h.pop("X-Touchline-Signature"), id="no-signature"),
    pytest.param(lambda h, i: h.pop("X-Touchline-Timestamp"), id="no-timestamp"),
    pytest.param(lambda h, i: h.update({"X-Touchline-Signature": "0" * 64}), id="wrong-signature"),
    pytest.param(lambda h, i: h.update({"X-Touchline-Signature": "zz"}), id="not-hex"),
    pytest.param(lambda h, i: h.pop("X-Touchline-Integration"), id="no-integration"),
    pytest.param(lambda h, i: h.update({"X-Touchline-Integration": "99999"}), id="unknown-integration"),
    pytest.param(lambda h, i: h.update({"X-Touchline-Integration": "abc"}), id="garbage-integration"),
    pytest.param(lambda h, i: h.update({"X-Touchline-Timestamp": "soon"}), id="timestamp-not-a-number"),
])
def test_refused_posts_answer_401_and_change_nothing(client, db_session, calls_integration, mutate):
    body = _body()
    headers = signed_headers(calls_integration, body)
    mutate(headers, calls_integration)
    before = _counts(db_session)
    response = client.post("/webhooks/calls", data=body, headers=headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert _counts(db_session) == before


@pytest.mark.parametrize("age", [301, 3600, -301], ids=["just-too-old", "an-hour-old", "from-the-future"])
def test_timestamp_outside_five_minutes_is_a_replay(client, db_session, calls_integration, age):
    body = _body()
    ts = int(NOW.timestamp()) - age
    response = client.post("/webhooks/calls", data=body, headers=signed_headers(calls_integration, body, timestamp=ts))
    assert response.status_code == 401 and "300 seconds" in response.json["error"]["message"]
    assert _counts(db_session)[0] == 0


def test_timestamp_299_seconds_old_is_accepted(client, db_session, calls_integration):
    body = _body()
    ts = int(NOW.timestamp()) - 299
    assert client.post("/webhooks/calls", data=body,
                       headers=signed_headers(calls_integration, body, timestamp=ts)).status_code == 200


def test_signature_over_another_body_is_refused(client, db_session, calls_integration):
    headers = signed_headers(calls_integration, _body())
    tampered = _body([_call_events()["queued"] | {"ani": "+351919999999"}])
    assert client.post("/webhooks/calls", data=tampered, headers=headers).status_code == 401


def test_a_chat_integration_cannot_post_calls(client, db_session):
    from crm.integrations.models import IntegrationChannel

    chat = make_integration(IntegrationChannel.CHAT)
    assert post_signed(client, chat, [_call_events()["queued"]], path="/webhooks/calls").status_code == 401


def test_deactivated_integration_is_refused(client, db_session, calls_integration):
    set_active(calls_integration, False, actor=None)
    assert post_signed(client, calls_integration, [_call_events()["queued"]]).status_code == 401


def test_old_secret_verifies_during_the_overlap_only(client, db_session, calls_integration):
    old = calls_integration.secret
    rotate_secret(calls_integration, overlap_hours=2, actor=None, now=NOW)
    assert post_signed(client, calls_integration, [_call_events(call_id="x")["queued"]], secret=old).status_code == 200
    assert post_signed(client, calls_integration, [_call_events(call_id="y")["queued"]]).status_code == 200
    with time_machine.travel(NOW + timedelta(hours=2, seconds=1), tick=False):
        response = post_signed(client, calls_integration, [_call_events(call_id="z")["queued"]], secret=old)
        assert response.status_code == 401


def test_rotation_without_overlap_ends_the_old_secret_at_once(client, db_session, calls_integration):
    old = calls_integration.secret
    rotate_secret(calls_integration, overlap_hours=0, actor=None, now=NOW)
    assert post_signed(client, calls_integration, [_call_events()["queued"]], secret=old).status_code == 401


# -- bad bodies: 400 / 413 / 415 / 422 with field paths ---------------------------------------------------


def test_malformed_json_is_400(client, db_session, calls_integration):
    response = post_signed(client, calls_integration, b'{"events": [')
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_json"


def test_body_not_json_is_415(client, db_session, calls_integration):
    body = _body()
    headers = signed_headers(calls_integration, body) | {"Content-Type": "text/plain"}
    assert client.post("/webhooks/calls", data=body, headers=headers).status_code == 415


@pytest.mark.parametrize(("event", "path"), [
    ({"type": "queued", "call_id": "c", "occurred_at": T0.isoformat(), "ani": CALLER}, "events.0.event_id"),
    ({"event_id": "e", "type": "queued", "occurred_at": T0.isoformat(), "ani": CALLER}, "events.0.call_id"),
    ({"event_id": "e", "type": "rang", "call_id": "c", "occurred_at": T0.isoformat()}, "events.0.type"),
    ({"event_id": "e", "type": "ended", "call_id": "c", "occurred_at": T0.isoformat(), "talk_seconds": "12"},
     "events.0.talk_seconds"),
    ({"event_id": "e", "type": "ended", "call_id": "c", "occurred_at": T0.isoformat(), "talk_seconds": -1},
     "events.0.talk_seconds"),
    ({"event_id": "e", "type": "ended", "call_id": "c", "occurred_at": "2026-12-01T09:00:00"}, "events.0.occurred_at"),
    ({"event_id": 7, "type": "ended", "call_id": "c", "occurred_at": T0.isoformat()}, "events.0.event_id"),
    ({"event_id": "e", "type": "queued", "call_id": "c", "occurred_at": T0.isoformat()}, "events.0.ani"),
    ({"event_id": "e", "type": "queued", "call_id": "c", "occurred_at": T0.isoformat(), "ani": "12"}, "events.0.ani"),
    ({"event_id": "e", "type": "ended", "call_id": "c", "occurred_at": T0.isoformat(), "recording_url": "ftp://x"},
     "events.0.recording_url"),
])
def test_wrong_or_missing_fields_are_422_with_their_path(client, db_session, calls_integration, event, path):
    response = post_signed(client, calls_integration, [event])
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_error"
    assert path in response.json["error"]["fields"]
    assert _counts(db_session) == (0, 0, 0, 0)


@pytest.mark.parametrize("body", [b"[]", b'{"events": []}', b'{"events": {}}', b'{"events": [1]}', b"null"])
def test_wrong_envelope_is_422(client, db_session, calls_integration, body):
    assert post_signed(client, calls_integration, body).status_code == 422


def test_a_bad_event_refuses_the_whole_batch(client, db_session, calls_integration):
    good = _call_events()["queued"]
    bad = call_event("queued", "c2", T0)  # no ani
    response = post_signed(client, calls_integration, [good, bad])
    assert response.status_code == 422 and "events.1.ani" in response.json["error"]["fields"]
    assert _counts(db_session) == (0, 0, 0, 0)


def test_huge_body_is_413_before_anything_else(client, db_session, calls_integration, app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_MAX_BODY", 1000)
    body = _body([call_event("ended", f"c{i}", T0) for i in range(20)])
    assert len(body) > 1000
    response = client.post("/webhooks/calls", data=body, headers=signed_headers(calls_integration, body))
    assert response.status_code == 413 and response.json["error"]["code"] == "payload_too_large"

