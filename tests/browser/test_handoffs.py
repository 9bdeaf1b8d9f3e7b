"""In Chromium: an inside rep hands a lead off, the field rep sends it back with a reason, the rep gets it back."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.auth.models import User
from crm.auth.service import create_user
from crm.contacts.models import Contact
from crm.extensions import db
from crm.leads.service import create_lead
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser
PASSWORD = "demo-password-123"


def _data() -> int:
    rep = create_user("rita.rep@touchline.example", PASSWORD, "rep", name="Rita Rep", team="Lisbon",
                      timezone="Europe/Lisbon")
    field = create_user("filipa.field@touchline.example", PASSWORD, "field", name="Filipa Field", team="Lisbon",
                        timezone="Europe/Berlin")
    db.session.get(User, field.id).territory = "PT"
    contact = Contact(first_name="Leonor", last_name="Marques", email="leonor@example.pt", country="PT",
                      timezone="America/New_York", team_id=rep.team_id)
    db.session.add(contact)
    db.session.flush()
    return create_lead(contact, actor=rep, owner=rep, title="Fibre for 40 seats").id


def _sign_out(page):
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Email")).to_be_visible()


def test_rep_hands_off_field_rep_sends_back_rep_sees_it_in_nurture_with_a_task(live_server, page):
    lead_id = live_server.run(_data)
    sign_in(page, live_server, "rita.rep@touchline.example", PASSWORD)
    page.goto(f"{live_server.url}/leads/{lead_id}")
    page.get_by_test_id("handoff-panel").get_by_role("link", name="Hand off").click()
    expect(page.get_by_role("heading", name="Hand off to field sales")).to_be_visible()
    page.get_by_label("Budget", exact=True).fill("€40k approved for Q1")
    page.get_by_label("Budget met").check()
    page.get_by_label("Authority", exact=True).fill("The CFO signs")
    page.get_by_label("Authority met").check()
    page.get_by_label("Need", exact=True).fill("40 seats of fibre")
    page.get_by_label("Need met").check()
    page.get_by_label("Timeline", exact=True).fill("Before March")
    page.get_by_label("Notes for the field rep").fill("Prefers calls in the morning.")
    page.get_by_label("Proposed first meeting (contact's local time)").fill("2030-01-15T09:30")
    page.get_by_label("Field rep", exact=True).select_option(label="Filipa Field (PT)")
    page.get_by_role("button", name="Hand off").click()
    expect(page.get_by_text("Handed off to Filipa Field.")).to_be_visible()
    expect(page.get_by_test_id("lead-handoff-status")).to_have_text("pending")
    expect(page.get_by_test_id("timeline")).to_contain_text("Hand-off submitted by Rita Rep to Filipa Field")
    _sign_out(page)

    sign_in(page, live_server, "filipa.field@touchline.example", PASSWORD)
    page.get_by_role("link", name="Hand-offs").click()
    card = page.get_by_test_id("handoff").filter(has_text="Fibre for 40 seats")
    expect(card).to_contain_text("The CFO signs")
    expect(card.get_by_test_id("handoff-meeting")).to_contain_text("09:30 (America/New_York)")
    expect(card.get_by_test_id("handoff-meeting")).to_contain_text("15:30 in Europe/Berlin")
    card.get_by_text("Send back…").click()
    card.get_by_role("button", name="Send back", exact=True).click()
    expect(page.get_by_text("A reason is required.")).to_be_visible()  # beside the field, nothing changed
    expect(page.get_by_test_id("handoff-status")).to_have_text("pending")
    reason = page.get_by_label("Why? The inside rep follows up on this.")
    reason.fill("No budget until March; call back then.")
    reason.press("Tab")
    page.keyboard.press("Enter")  # the Send back button, from the keyboard
    expect(page.get_by_text("Sent back to Rita Rep.")).to_be_visible()
    expect(page.get_by_test_id("handoff-status")).to_have_text("sent back")
    _sign_out(page)

    sign_in(page, live_server, "rita.rep@touchline.example", PASSWORD)
    page.goto(f"{live_server.url}/leads/{lead_id}")
    expect(page.get_by_test_id("lead-stage")).to_have_text("Nurture")
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text("Sent back by Filipa Field: No budget until March; call back then.")
    expect(timeline).to_contain_text("Task: Sent back by Filipa Field: No budget until March")
    expect(page.get_by_test_id("handoff-panel").get_by_role("link", name="Hand off")).to_be_visible()
