"""In Chromium: an admin edits the default cadence (with an error beside the field first); a rep adds a task
on the lead page with the T key, sees it on /tasks and completes it."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from crm.auth.models import User
from crm.auth.service import create_user
from crm.cadences.defaults import ensure_defaults
from crm.contacts.models import Contact
from crm.extensions import db
from crm.leads.service import create_lead
from tests.browser.conftest import sign_in


def _org():
    if db.session.scalar(select(User.id).where(User.email == "cadence.admin@touchline.example")):
        return
    ensure_defaults()
    create_user("cadence.admin@touchline.example", "admin-password-12", "admin", name="Cade Admin")
    rep = create_user("tess@touchline.example", "rep-password-12", "rep", name="Tess Rep", team="Braga")
    contact = Contact(first_name="Inês", last_name="Lopes", phone="+351912444555", email="ines@example.pt",
                      timezone="Europe/Lisbon", team_id=rep.team_id)
    db.session.add(contact)
    db.session.flush()
    create_lead(contact, actor=rep, owner=rep, title="Inês's office fibre")


def test_admin_edits_the_default_cadence(live_server, page):
    live_server.run(_org)
    sign_in(page, live_server, "cadence.admin@touchline.example", "admin-password-12")
    page.get_by_role("link", name="Admin", exact=True).click()
    page.get_by_role("link", name="Cadences").click()
    expect(page.get_by_role("heading", name="Cadences", exact=True)).to_be_visible()
    page.get_by_role("link", name="Three calls, then an email").click()
    row = page.locator('tr[data-step-row="2"]')
    row.get_by_label("From").fill("21:00")
    row.get_by_label("Until").fill("18:00")
    new = page.locator('tr[data-step-row="4"]')
    new.get_by_label("Day").fill("7")
    new.get_by_label("From").fill("10:00")
    new.get_by_label("Until").fill("12:00")
    new.get_by_label("Channel").select_option("email")
    new.get_by_label("Email template").fill("no_such_email")
    page.get_by_role("button", name="Save cadence").click()
    expect(page.locator("#steps-2-window_end-error")).to_have_text("The window must end after it starts.")
    expect(page.locator("#steps-4-template_key-error")).to_have_text("There is no email template no_such_email.")
    page.locator('tr[data-step-row="2"]').get_by_label("From").fill("17:30")
    page.locator('tr[data-step-row="2"]').get_by_label("Until").fill("20:30")
    page.locator('tr[data-step-row="4"]').get_by_label("Email template").fill("follow_up")
    page.get_by_role("button", name="Save cadence").click()
    expect(page.get_by_role("alert")).to_contain_text("Cadence Three calls, then an email saved.")
    page.get_by_role("link", name="Cadences").first.click()
    card = page.locator('[data-cadence="Three calls, then an email"]')
    expect(card).to_contain_text("day 3, 17:30–20:30, Call")
    expect(card).to_contain_text("day 7, 10:00–12:00, Email · follow_up")


def test_rep_creates_and_completes_a_task(live_server, page):
    live_server.run(_org)
    sign_in(page, live_server, "tess@touchline.example", "rep-password-12")
    page.get_by_role("link", name="Leads", exact=True).click()
    expect(page.get_by_test_id("leads").get_by_test_id("cadence-step")).to_contain_text(re.compile(r"step 1 of \d · Call"))
    page.get_by_role("link", name="Inês's office fibre").click()
    expect(page.get_by_test_id("cadence-step")).to_contain_text(re.compile(r"Cadence step 1 of \d: Call"))
    page.wait_for_load_state()  # shortcuts.js is the page's last script
    page.keyboard.press("t")
    expect(page.get_by_role("textbox", name="New task")).to_be_focused()
    page.get_by_role("button", name="Add task").click()
    expect(page.locator("#new-task-title-error")).to_be_visible()  # a task needs a title
    page.wait_for_load_state()
    page.keyboard.press("t")
    expect(page.get_by_role("textbox", name="New task")).to_be_focused()
    page.keyboard.type("Send Inês the price list")
    page.get_by_label("Due (your time)").fill("2030-01-15T10:30")
    page.get_by_role("button", name="Add task").click()
    expect(page.get_by_role("alert")).to_contain_text("Task added: Send Inês the price list.")
    expect(page.get_by_test_id("lead-tasks")).to_contain_text("Send Inês the price list")
    page.get_by_role("link", name="Tasks").click()
    row = page.get_by_test_id("tasks").locator("tr", has_text="Send Inês the price list")
    expect(row).to_be_visible()
    expect(page.get_by_test_id("feed-url")).to_have_value(re.compile(r"/calendar/[\w-]+\.ics$"))
    row.get_by_role("button", name="Mark Send Inês the price list done").click()
    expect(page.get_by_role("alert")).to_contain_text("Done: Send Inês the price list.")
    expect(page.get_by_test_id("empty")).to_be_visible()
    page.get_by_role("link", name="Done").click()
    expect(page.get_by_test_id("tasks")).to_contain_text("Send Inês the price list")
