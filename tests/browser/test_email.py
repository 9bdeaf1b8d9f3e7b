"""In Chromium: an admin previews and saves a template; a rep composes an email on a lead page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.auth.service import create_user
from crm.contacts.service import find_or_create_contact
from crm.email.sender import drain
from crm.leads.service import create_lead
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser
PASSWORD = "demo-password-123"


def test_admin_previews_a_template_and_a_bad_field_is_refused_beside_it(live_server, page):
    live_server.run(create_user, "ada.admin@touchline.example", PASSWORD, "admin", name="Ada Admin")
    sign_in(page, live_server, "ada.admin@touchline.example", PASSWORD)
    page.goto(live_server.url + "/admin/email-templates/new")
    page.get_by_label("Key", exact=True).fill("follow_up")
    page.get_by_label("Locale", exact=True).fill("pt")
    page.get_by_label("Kind", exact=True).select_option("marketing")
    page.get_by_label("Subject", exact=True).fill("Olá {{ contact.first_name }}")
    page.get_by_label("Body", exact=True).fill("Falamos amanhã?\n{{ rep.name }}")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("preview-subject")).to_have_text("Olá Ana")
    expect(page.get_by_test_id("preview-body")).to_contain_text("Rita Reis")

    page.get_by_label("Body", exact=True).fill("Falamos amanhã?\n{{ config.SECRET_KEY }}")
    page.get_by_role("button", name="Save template").click()
    expect(page.locator("#body-error")).to_contain_text("'config' is undefined")
    expect(page.get_by_label("Body", exact=True)).to_have_class("form-control is-invalid")

    page.get_by_label("Body", exact=True).fill("Falamos amanhã?\n{{ rep.name }}\n{{ unsubscribe_url }}")
    page.get_by_role("button", name="Save template").click()
    expect(page.get_by_text("Template follow_up (pt) saved.")).to_be_visible()
    page.get_by_role("link", name="Email templates").first.click()
    expect(page.get_by_test_id("templates")).to_contain_text("follow_up")
    expect(page.get_by_test_id("templates")).to_contain_text("Marketing")


def _rep_with_lead() -> int:
    rep = create_user("rita.rep@touchline.example", PASSWORD, "rep", name="Rita Reis", team="Lisbon")
    contact = find_or_create_contact(first_name="Ana", last_name="Sousa", email="ana.sousa@example.pt",
                                     timezone="Europe/Lisbon").contact
    return create_lead(contact, actor=rep, owner=rep, source="web").id


def test_rep_composes_an_email_and_sees_it_kept_without_an_api_key(live_server, page):
    lead_id = live_server.run(_rep_with_lead)
    sign_in(page, live_server, "rita.rep@touchline.example", PASSWORD)
    page.goto(f"{live_server.url}/leads/{lead_id}")
    panel = page.get_by_test_id("email-panel")
    panel.get_by_role("button", name="Queue email").click()  # empty: refused beside the field
    expect(panel.locator("#subject-error")).to_contain_text("Write a subject")

    panel = page.get_by_test_id("email-panel")
    panel.get_by_label("Subject", exact=True).fill("Proposal for {{ contact.first_name }}")
    panel.get_by_label("Message", exact=True).fill("Hi {{ contact.first_name }},\nthe proposal is attached.")
    panel.get_by_role("button", name="Queue email").click()
    expect(page.get_by_text("Email to ana.sousa@example.pt queued: Proposal for Ana")).to_be_visible()
    expect(page.get_by_test_id("lead-outbox")).to_contain_text("queued")

    live_server.run(drain)  # the sender, with no SENDGRID_API_KEY set
    page.reload()
    expect(page.get_by_test_id("lead-outbox")).to_contain_text("not sent (no API key)")
    page.get_by_role("link", name="Outbox").click()
    expect(page.get_by_test_id("outbox")).to_contain_text("Proposal for Ana")
    expect(page.get_by_test_id("outbox")).to_contain_text("not sent (no API key)")
