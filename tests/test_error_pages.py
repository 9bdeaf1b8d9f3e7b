"""Errors answer in the app's own style, as pages or as JSON."""

from __future__ import annotations

from flask import abort

from tests import factories as f


def _sign_in(client, user):
    client.post("/login", data={"email": user.email, "password": f.PASSWORD})


def test_404_page_is_styled(client, db_session):
    _sign_in(client, f.user())
    resp = client.get("/no/such/page")
    assert resp.status_code == 404
    assert b"Not found" in resp.data and b"Back to Touchline" in resp.data and b"navbar" in resp.data


def test_403_and_500_pages(database):
    from tests.conftest import make_app

    app = make_app(database)
    app.add_url_rule("/_test/forbidden", "boom_forbidden", lambda: abort(403))
    app.add_url_rule("/_test/crash", "boom_crash", lambda: 1 / 0)
    client = app.test_client()
    forbidden = client.get("/_test/forbidden")
    assert forbidden.status_code == 403 and b"Not allowed" in forbidden.data
    crash = client.get("/_test/crash")
    assert crash.status_code == 500 and b"Something went wrong on our side" in crash.data


def test_api_errors_are_json(client, db_session):
    resp = client.post("/api/v1/me")
    assert resp.status_code in (401, 405)
    assert set(resp.json["error"]) == {"code", "message", "fields"}
