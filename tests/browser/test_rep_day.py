"""The rep's day in one journey: sign in, Next lead, three unanswered calls, the cadence's email appears, a task.

The cadence here is the default one squeezed into one day (every step due now, whatever the
hour), so the journey runs at any time of day without a frozen clock in the server thread.
"""

from __future__ import annotations

from datetime import time, timedelta

from playwright.sync_api import expect

from crm.auth.service import create_user
from crm.cadences.defaults import ensure_follow_up_templates
from crm.cadences.models import Cadence, CadenceStep
from crm.contacts.models import Contact
from crm.db import utcnow
from crm.extensions import db
from crm.leads.service import create_lead
from crm.touches.models import Channel
from tests.browser.conftest import ARTIFACTS, sign_in

ALL_DAY = (time(0, 0), time(23, 59))


def _day():
    ensure_follow_up_templates()
    steps = [CadenceStep(position=n, day_offset=0, window_start=ALL_DAY[0], window_end=ALL_DAY[1], channel=Channel.CALL)
             for n in range(3)]
    steps.append(CadenceStep(position=3, day_offset=0, window_start=ALL_DAY[0], window_end=ALL_DAY[1],
                             channel=Channel.EMAIL, template_key="follow_up", only_if_unreached=True))
    db.session.add(Cadence(name="Three calls today, then an email", is_default=True, steps=steps))
    db.session.flush()
    rep = create_user("dina@touchline.example", "rep-password-12", "rep", name="Dina Rep", team="Day team")
    # A contact whose local time is always inside the default calling hours: the zone follows the UTC hour.
    hour = utcnow().hour
    zone = "UTC" if 8 <= hour < 20 else ("Asia/Tokyo" if hour >= 20 or hour < 2 else "America/New_York")
    contact = Contact(first_name="Irene", last_name="Lopes", email="irene.lopes@example.com", phone="+351912555111",
                      timezone=zone, team_id=rep.team_id)
    db.session.add(contact)
    db.session.flush()
    return create_lead(contact, actor=rep, owner=rep, title="Irene's fibre", created_at=utcnow() - timedelta(minutes=3)).id


def test_the_reps_day(live_server, page):
    lead_id = live_server.run(_day)
    sign_in(page, live_server, "dina@touchline.example", "rep-password-12")
    page.get_by_role("link", name="Queue").click()
    expect(page.get_by_test_id("queue").locator("tbody tr").first).to_contain_text("Irene's fibre")
    page.wait_for_load_state()  # the shortcuts are bound by scripts at the end of <body>
    page.keyboard.press("n")
    expect(page).to_have_url(f"{live_server.url}/leads/{lead_id}")
    expect(page.get_by_test_id("cadence-step")).to_contain_text("Cadence step 1 of 4: Call")

    page.get_by_label("Then the next lead").uncheck()
    for attempt in range(1, 4):
        page.keyboard.press("l")
        page.get_by_label("Outcome", exact=True).select_option("no_answer")
        page.get_by_label("Notes").fill(f"Attempt {attempt}: no answer.")
        page.get_by_label("Notes").press("Control+Enter")
        expect(page.get_by_test_id("timeline")).to_contain_text(f"Attempt {attempt}: no answer.")

    # never reached after three calls: the follow-up email is in the outbox, queued by the cadence
    page.reload()
    expect(page.get_by_test_id("lead-outbox")).to_contain_text("Following up, Irene")
    expect(page.get_by_test_id("lead-outbox")).to_contain_text("queued")  # the send-outbox job takes it from here
    expect(page.get_by_test_id("lead-stage")).to_contain_text("Nurture")

    page.keyboard.press("t")
    expect(page.get_by_role("textbox", name="New task")).to_be_focused()
    page.keyboard.type("Call Irene after she reads the offer")
    page.get_by_role("button", name="Add task").click()
    expect(page.get_by_test_id("lead-tasks")).to_contain_text("Call Irene after she reads the offer")
    page.screenshot(path=str(ARTIFACTS / "rep-day-lead.png"), full_page=True)
