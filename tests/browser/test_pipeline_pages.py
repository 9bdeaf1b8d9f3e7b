"""A rep searches contacts by a phone written their own way, then creates a lead through the form."""

from __future__ import annotations

from playwright.sync_api import expect

from crm.auth.service import create_user
from crm.contacts.models import Contact
from crm.extensions import db
from crm.leads.service import create_lead
from tests.browser.conftest import sign_in


def _data():
    rep = create_user("bia@touchline.example", "rep-password-12", "rep", name="Bia Rep", team="Faro")
    contact = Contact(first_name="Leonor", last_name="Marques", phone="+351912555777", email="leonor@example.pt",
                      timezone="Europe/Lisbon", team_id=rep.team_id)
    db.session.add(contact)
    db.session.flush()
    create_lead(contact, actor=rep, owner=rep, title="Leonor's fibre")


def test_search_then_new_lead(live_server, page):
    live_server.run(_data)
    sign_in(page, live_server, "bia@touchline.example", "rep-password-12")
    page.get_by_role("link", name="Contacts").click()
    page.keyboard.press("/")
    page.keyboard.type("00351 912 555 777")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("contacts")).to_contain_text("Leonor Marques")
    page.get_by_role("link", name="Leonor Marques").click()
    expect(page.get_by_test_id("timeline")).to_contain_text("Lead created in Discover")

    page.get_by_role("link", name="Leads", exact=True).click()
    page.get_by_role("link", name="New lead").click()
    page.get_by_label("First name").fill("Duarte")
    page.get_by_label("Phone").fill("12")
    page.get_by_role("button", name="Create lead").click()
    expect(page.get_by_text("Not a valid phone number.")).to_be_visible()
    expect(page.get_by_label("First name")).to_have_value("Duarte")  # nothing typed is lost
    page.get_by_label("Phone").fill("+351 913 222 333")
    page.get_by_label("Title").fill("Duarte's 10 lines")
    page.get_by_role("button", name="Create lead").click()
    expect(page.get_by_test_id("lead-stage")).to_have_text("Discover")
    expect(page.get_by_text("Lead created and given to Bia Rep.")).to_be_visible()
