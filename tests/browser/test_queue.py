"""A rep signs in, presses N, logs "no answer" from the keyboard and lands on the next lead."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from crm.auth.service import create_user
from crm.contacts.models import Contact
from crm.db import utcnow
from crm.extensions import db
from crm.leads.models import Campaign
from crm.leads.service import create_lead
from tests.browser.conftest import sign_in


def _data():
    rep = create_user("quinn@touchline.example", "rep-password-12", "rep", name="Quinn Rep", team="Queue team")
    campaign = Campaign(name="Fibre autumn", team_id=rep.team_id, call_script="Hi, this is Quinn about fibre.")
    db.session.add(campaign)
    leads = []
    for n, (first, minutes) in enumerate([("Alda", 40), ("Bruno", 20)]):
        contact = Contact(first_name=first, last_name="Sousa", phone=f"+35191277700{n}", timezone="Europe/Lisbon",
                          team_id=rep.team_id)
        db.session.add(contact)
        db.session.flush()
        leads.append(create_lead(contact, actor=rep, owner=rep, campaign=campaign, title=f"{first}'s fibre",
                                 created_at=utcnow() - timedelta(minutes=minutes)))
    return [lead.id for lead in leads]


def test_rep_presses_n_logs_no_answer_and_lands_on_the_next_lead(live_server, page):
    first_id, second_id = live_server.run(_data)
    sign_in(page, live_server, "quinn@touchline.example", "rep-password-12")
    page.get_by_role("link", name="Queue").click()
    rows = page.get_by_test_id("queue").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("New lead, not touched yet")
    expect(rows.first).to_contain_text("Alda's fibre")
    badge = rows.first.locator(".badge").first
    colours = badge.evaluate("b => [getComputedStyle(b).color, getComputedStyle(b).backgroundColor]")
    assert colours[1] not in ("rgba(0, 0, 0, 0)", "transparent") and colours[0] != colours[1], colours  # readable

    page.wait_for_load_state()  # the shortcuts are bound by scripts at the end of <body>
    page.keyboard.press("n")
    expect(page).to_have_url(f"{live_server.url}/leads/{first_id}")
    expect(page.get_by_test_id("lease-status")).to_contain_text("You are working this lead")
    expect(page.get_by_test_id("call-script")).to_contain_text("Hi, this is Quinn about fibre.")

    page.keyboard.press("l")
    expect(page.get_by_label("Outcome", exact=True)).to_be_focused()
    page.get_by_label("Outcome", exact=True).select_option("no_answer")
    page.keyboard.press("Tab")  # channel
    page.keyboard.press("Tab")  # talk time
    page.keyboard.press("Tab")  # notes
    page.keyboard.type("Rang out twice.")
    expect(page.get_by_label("Then the next lead")).to_be_checked()
    page.keyboard.press("Control+Enter")

    expect(page).to_have_url(f"{live_server.url}/leads/{second_id}")
    expect(page.get_by_role("alert").first).to_contain_text("Logged.")
    expect(page.get_by_test_id("lease-status")).to_contain_text("You are working this lead")
    page.goto(f"{live_server.url}/leads/{first_id}")
    expect(page.get_by_test_id("timeline")).to_contain_text("Rang out twice.")


def test_empty_queue_shows_a_friendly_page(live_server, page):
    def _lonely():
        create_user("ursa@touchline.example", "rep-password-12", "rep", name="Ursa Rep", team="Empty team")

    live_server.run(_lonely)
    sign_in(page, live_server, "ursa@touchline.example", "rep-password-12")
    page.goto(live_server.url + "/queue")
    expect(page.get_by_test_id("queue-empty")).to_contain_text("Nothing waiting for you")
    page.wait_for_load_state()  # the shortcuts are bound by scripts at the end of <body>
    page.keyboard.press("n")
    expect(page.get_by_role("alert").first).to_contain_text("Nothing to do right now.")


def test_leaving_the_lead_page_lets_go_of_the_lease(live_server, page):
    import time

    from crm.leads.models import Lead

    def _one():
        rep = create_user("vera@touchline.example", "rep-password-12", "rep", name="Vera Rep", team="Beacon team")
        contact = Contact(first_name="Zita", last_name="Lopes", phone="+351912888111", timezone="Europe/Lisbon",
                          team_id=rep.team_id)
        db.session.add(contact)
        db.session.flush()
        return create_lead(contact, actor=rep, owner=rep, title="Zita's fibre").id

    def _holder(lead_id):
        return db.session.get(Lead, lead_id).claimed_by_id

    lead_id = live_server.run(_one)
    sign_in(page, live_server, "vera@touchline.example", "rep-password-12")
    page.goto(live_server.url + "/queue")
    page.wait_for_load_state()  # the shortcuts are bound by scripts at the end of <body>
    page.keyboard.press("n")
    expect(page.get_by_test_id("lease-status")).to_contain_text("You are working this lead")
    assert live_server.run(_holder, lead_id) is not None
    page.get_by_role("link", name="Contacts").click()
    expect(page.get_by_role("heading", name="Contacts")).to_be_visible()
    for _ in range(30):
        if live_server.run(_holder, lead_id) is None:
            break
        time.sleep(0.1)
    assert live_server.run(_holder, lead_id) is None


def test_logging_without_next_lead_stays_on_the_page_without_a_reload(live_server, page):
    def _one():
        rep = create_user("rhea@touchline.example", "rep-password-12", "rep", name="Rhea Rep", team="Stay team")
        contact = Contact(first_name="Clara", last_name="Matos", phone="+351912777999", timezone="Europe/Lisbon",
                          team_id=rep.team_id)
        db.session.add(contact)
        db.session.flush()
        return create_lead(contact, actor=rep, owner=rep, title="Clara's fibre").id

    lead_id = live_server.run(_one)
    sign_in(page, live_server, "rhea@touchline.example", "rep-password-12")
    page.goto(live_server.url + "/queue")
    page.wait_for_load_state()  # the shortcuts are bound by scripts at the end of <body>
    page.keyboard.press("n")
    expect(page).to_have_url(f"{live_server.url}/leads/{lead_id}")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    page.keyboard.press("l")
    page.get_by_label("Outcome", exact=True).select_option("voicemail")
    page.get_by_label("Notes").fill("Left a message about the offer.")
    page.get_by_label("Then the next lead").uncheck()
    page.get_by_label("Notes").press("Control+Enter")

    expect(page.get_by_test_id("timeline")).to_contain_text("Left a message about the offer.")
    expect(page.get_by_role("alert").first).to_contain_text("Logged.")
    expect(page.get_by_label("Outcome", exact=True)).to_be_focused()
    assert page.evaluate("window.__sameDocument") is True
    expect(page).to_have_url(f"{live_server.url}/leads/{lead_id}")
    expect(page.get_by_label("Notes")).to_have_value("")  # a fresh form for the next attempt

    # a bad entry is answered in place too, with what was typed kept
    page.get_by_label("Talk time (seconds)").fill("-5")
    page.get_by_label("Notes").fill("Second try.")
    page.get_by_label("Notes").press("Control+Enter")
    expect(page.get_by_test_id("log-panel").locator(".invalid-feedback")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True
    expect(page.get_by_label("Notes")).to_have_value("Second try.")
