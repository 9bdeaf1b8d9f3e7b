"""In Chromium: a manager opens the funnel, downloads its CSV, and plans staffing with the Erlang C planner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from crm.auth.service import create_user
from crm.contacts.service import find_or_create_contact
from crm.leads import service as leads
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser
PASSWORD = "manager-password-12"


def _team_with_leads():
    manager = create_user("mia.manager@touchline.example", PASSWORD, "manager", name="Mia Manager", team="Porto")
    rep = create_user("rui.rep@touchline.example", "rep-password-123", "rep", name="Rui Rep", team="Porto")
    now = datetime.now(UTC)
    for n in range(3):
        contact = find_or_create_contact(first_name=f"Cliente{n}", last_name="Silva", email=f"c{n}@example.pt",
                                         timezone="Europe/Lisbon").contact
        lead = leads.create_lead(contact, actor=rep, owner=rep, created_at=now - timedelta(days=3))
        if n:
            leads.change_stage(lead, "nurture", actor=rep, at=now - timedelta(days=2))
    return manager.id


def test_manager_reads_the_funnel_downloads_csv_and_plans_staffing(live_server, page):
    live_server.run(_team_with_leads)
    sign_in(page, live_server, "mia.manager@touchline.example", PASSWORD)
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Conversion funnel")).to_be_visible()
    chart = page.get_by_role("img", name="Funnel: leads created in the period and how far they got")
    expect(chart).to_be_visible()
    table = page.get_by_test_id("funnel-table")
    expect(table.locator('tr[data-figure="created"] td').first).to_have_text("3")
    expect(table.locator('tr[data-figure="reached_nurture"] td').first).to_have_text("2")
    expect(table.locator('tr[data-figure="win_rate"] td').first).to_have_text("—")

    page.get_by_label("From").fill("2026-02-10")
    page.get_by_label("To").fill("2026-02-01")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#date_to-error")).to_contain_text("must be on or after date_from")
    page.get_by_label("To").fill("")
    page.get_by_label("From").fill("")
    page.get_by_role("button", name="Show").click()

    with page.expect_download() as download:
        page.get_by_test_id("csv-link").click()
    text = download.value.path().read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("figure,")
    assert "Leads created,3,0" in text

    page.get_by_role("link", name="Staffing").click()
    page.get_by_label("Calls per interval").fill("100")
    page.get_by_label("Average handle time (seconds)").fill("180")
    page.get_by_label("Target service level (%)").fill("80")
    page.get_by_label("Shrinkage (%)").fill("30")
    page.get_by_role("button", name="Plan").click()
    expect(page.get_by_test_id("agents")).to_have_text("14")
    expect(page.get_by_test_id("positions")).to_have_text("20")
    expect(page.get_by_test_id("service-level")).to_contain_text("88.8")

    page.get_by_label("Forecast from past weeks").check()
    page.get_by_label("Day to forecast").fill((datetime.now(UTC) + timedelta(days=1)).date().isoformat())
    page.get_by_label("Average handle time (seconds)").fill("")
    page.get_by_role("button", name="Plan").click()
    expect(page.get_by_role("img", name="Positions to schedule per 30 minutes")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_test_id("csv-link").click()
    assert len(download.value.path().read_text(encoding="utf-8").splitlines()) >= 47
