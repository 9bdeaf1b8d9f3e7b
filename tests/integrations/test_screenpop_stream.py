"""/events/stream: signed-in users only, each gets their own answered calls, resumed by Last-Event-ID."""

from __future__ import annotations

import json
from datetime import timedelta

import time_machine
from sqlalchemy import select

from crm.integrations.models import ScreenPop
from tests import factories as f
from tests.integrations.conftest import T0, call_event, post_signed


def _sign_in(client, user):
    client.post("/login", data={"email": user.email, "password": f.PASSWORD})


def _frames(response) -> list[dict]:
    text = response.get_data(as_text=True)
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


def _answer(client, integration, call_id, agent_email):
    post_signed(client, integration, [call_event("queued", call_id, T0, ani="+351912000222"),
                                      call_event("answered", call_id, T0 + timedelta(seconds=5),
                                                 agent_email=agent_email)])


def test_signed_out_gets_401_not_a_login_redirect(client, db_session):
    assert client.get("/events/stream").status_code == 401


def test_rep_gets_only_their_own_pop_with_contact_and_lead(client, db_session, calls_integration):
    rep, other = f.user(email="a@example.com"), f.user(email="b@example.com")
    with time_machine.travel(T0 + timedelta(seconds=6), tick=False):
        _answer(client, calls_integration, "c1", "a@example.com")
        _answer(client, calls_integration, "c2", "b@example.com")
        _sign_in(client, rep)
        response = client.get("/events/stream")
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert "retry: 700" in response.get_data(as_text=True)
    [card] = _frames(response)
    assert card["contact"]["phone"] == "+351912000222" and card["number"] == "+351912000222"
    assert card["lead"]["url"] == f"/leads/{card['lead']['id']}"
    assert other.id != rep.id


def test_last_event_id_resumes_after_the_last_pop_seen(client, db_session, calls_integration):
    rep = f.user(email="a@example.com")
    with time_machine.travel(T0 + timedelta(seconds=6), tick=False):
        _answer(client, calls_integration, "c1", "a@example.com")
        _sign_in(client, rep)
        first = db_session.scalar(select(ScreenPop.id))
        assert _frames(client.get("/events/stream", headers={"Last-Event-ID": str(first)})) == []
        _answer(client, calls_integration, "c2", "a@example.com")
        assert len(_frames(client.get("/events/stream", headers={"Last-Event-ID": str(first)}))) == 1
        assert len(_frames(client.get(f"/events/stream?after={first}"))) == 1


def test_a_first_connection_skips_old_pops(client, db_session, calls_integration):
    rep = f.user(email="a@example.com")
    with time_machine.travel(T0 + timedelta(seconds=6), tick=False):
        _answer(client, calls_integration, "c1", "a@example.com")
    with time_machine.travel(T0 + timedelta(minutes=2), tick=False):
        _sign_in(client, rep)
        assert _frames(client.get("/events/stream")) == []


def test_the_script_is_on_signed_in_pages_only(client, db_session):
    assert b"screenpop.js" not in client.get("/login").data
    _sign_in(client, f.user())
    assert b"screenpop.js" in client.get("/").data
