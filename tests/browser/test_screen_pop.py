"""A rep's open page shows the caller's card within a second of a signed call webhook; an admin sets up the integration."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from crm.auth.models import User
from crm.auth.service import create_user
from crm.integrations import service
from crm.integrations.models import Integration
from crm.integrations.signing import INTEGRATION_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.browser.conftest import sign_in

PASSWORD = "demo-password-123"


def _people():
    if db_has("rita.rep@touchline.example"):
        return
    create_user("rita.rep@touchline.example", PASSWORD, "rep", name="Rita Rep", team="Inbound")
    create_user("ivo.admin@touchline.example", PASSWORD, "admin", name="Ivo Admin")


def db_has(email):
    from crm.extensions import db

    return db.session.scalar(select(User.id).where(User.email == email)) is not None


def _integration():
    from crm.extensions import db

    found = db.session.scalar(select(Integration).where(Integration.name == "Phone system"))
    if found is None:
        found = service.create_integration(name="Phone system", channel="calls", team_id=None, actor=None).integration
        db.session.flush()
    return found.id, found.secret


def _post(server, integration_id, secret, events):
    body = json.dumps({"events": events}).encode()
    ts = int(time.time())
    request = urllib.request.Request(server.url + "/webhooks/calls", data=body, method="POST", headers={
        "Content-Type": "application/json", INTEGRATION_HEADER: str(integration_id), TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: sign(secret, ts, body)})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_answered_call_pops_the_callers_card_on_the_reps_page(live_server, page):
    live_server.run(_people)
    integration_id, secret = live_server.run(_integration)
    sign_in(page, live_server, "rita.rep@touchline.example", PASSWORD)
    page.goto(live_server.url + "/leads")
    page.wait_for_timeout(300)  # the stream is connected
    now = datetime.now(UTC)
    answered = _post(live_server, integration_id, secret, [
        {"event_id": "pop-q", "type": "queued", "call_id": "pop-1", "occurred_at": (now - timedelta(seconds=9)).isoformat(),
         "ani": "+351912777888", "dnis": "+351210000000"},
        {"event_id": "pop-a", "type": "answered", "call_id": "pop-1", "occurred_at": now.isoformat(),
         "agent_email": "rita.rep@touchline.example"}])
    posted_at = time.monotonic()
    assert answered["applied"] == 2
    card = page.get_by_test_id("screen-pop")
    expect(card).to_be_visible(timeout=3000)
    assert time.monotonic() - posted_at < 1.5
    expect(card).to_contain_text("Caller +351912777888")
    card.get_by_role("link", name="Open lead").click()
    expect(page).to_have_url(re.compile(r"/leads/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Caller +351912777888")


def test_admin_creates_an_integration_and_sees_its_secret_once(live_server, page):
    live_server.run(_people)
    sign_in(page, live_server, "ivo.admin@touchline.example", PASSWORD)
    page.goto(live_server.url + "/admin/integrations")
    page.get_by_label("Name").fill("Chat widget")
    page.get_by_label("Channel").select_option("chat")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="Chat widget created")).to_be_visible()
    secret = page.get_by_label("Secret").input_value()
    assert secret.startswith("whsec_")
    page.get_by_role("link", name="Back to integrations").click()
    row = page.locator('tr[data-integration="Chat widget"]')
    expect(row).to_contain_text("chat")
    assert secret not in page.content()
    row.get_by_role("button", name="Rotate secret").click()
    expect(page.get_by_role("alert")).to_contain_text("The old secret keeps working until")
    assert page.get_by_label("Secret").input_value() != secret
    page.get_by_role("link", name="Back to integrations").click()
    page.locator('tr[data-integration="Chat widget"]').get_by_role("button", name="Deactivate").click()
    expect(page.locator('tr[data-integration="Chat widget"]')).to_contain_text("deactivated")


def test_api_docs_page_renders_the_document(live_server, page):
    page.goto(live_server.url + "/api/docs")
    expect(page.get_by_role("heading", name="Touchline API")).to_be_visible()
    expect(page.locator("#post_webhooks_calls")).to_contain_text("X-Touchline-Signature")
    page.locator("#post_webhooks_calls").get_by_role("link", name="CallEventBatch").first.click()
    expect(page.locator("#schema-CallEventBatch")).to_be_in_viewport()
