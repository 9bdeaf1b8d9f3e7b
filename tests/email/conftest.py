"""Email test helpers: pytest-httpserver standing in for SendGrid, the real client sending to it."""

from __future__ import annotations

import json

import pytest

from tests import factories as f

MAIL_SEND = "/v3/mail/send"


@pytest.fixture
def sendgrid(app, httpserver, monkeypatch):
    """The stand-in SendGrid; the app sends to it with an API key set."""
    monkeypatch.setitem(app.config, "SENDGRID_API_KEY", "SG.test-key")
    monkeypatch.setitem(app.config, "SENDGRID_API_HOST", httpserver.url_for("/").rstrip("/"))
    yield httpserver
    httpserver.clear()


def accept(server, message_id: str = "sg-msg-1", times: int | None = None):
    """SendGrid's 202 with its X-Message-Id."""
    handler = server.expect_oneshot_request(MAIL_SEND, method="POST") if times == 1 else \
        server.expect_request(MAIL_SEND, method="POST")
    handler.respond_with_data("", status=202, headers={"X-Message-Id": message_id})


def sent_bodies(server) -> list[dict]:
    return [json.loads(request.get_data()) for request, _response in server.log]


def sign_in(client, user) -> None:
    resp = client.post("/login", data={"email": user.email, "password": f.PASSWORD})
    assert resp.status_code == 302, resp.data[:500]
