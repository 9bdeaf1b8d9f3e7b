"""An admin checks the jobs, runs one now, and changes the job settings, in Chromium."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from crm.auth.models import User
from crm.auth.service import create_user
from crm.extensions import db
from tests.browser.conftest import sign_in


def _admin():
    if db.session.scalar(select(User.id).where(User.email == "ada.admin@touchline.example")):
        return
    create_user("ada.admin@touchline.example", "demo-password-123", "admin", name="Ada Admin")


def test_admin_runs_a_job_now_and_sees_its_run(live_server, page):
    live_server.run(_admin)
    sign_in(page, live_server, "ada.admin@touchline.example", "demo-password-123")
    page.get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("heading", name="Scheduled jobs")).to_be_visible()
    row = page.locator('tr[data-job="retention"]')
    expect(row.get_by_test_id("last-run")).to_contain_text("never")
    row.get_by_role("button", name="Run retention now").click()
    expect(page.get_by_role("alert")).to_contain_text("retention ran: 0 items.")
    expect(page.locator('tr[data-job="retention"]').get_by_test_id("last-run")).to_contain_text("ok")
    expect(page.locator('tr[data-job="recycle"]')).to_contain_text("from its schedule")


def test_admin_changes_job_settings_with_errors_beside_the_fields(live_server, page):
    live_server.run(_admin)
    sign_in(page, live_server, "ada.admin@touchline.example", "demo-password-123")
    page.goto(live_server.url + "/admin/jobs")
    page.get_by_role("link", name="Job settings").click()
    offsets = page.get_by_label("Retention callbacks, days after the win")
    expect(offsets).to_have_value("30, 90, 180")
    offsets.fill("90, 30")
    page.get_by_label("Recycle an open lead after … days without a touch").fill("never")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#retention_offsets-error")).to_have_text("The days must increase (e.g. 30, 90, 180).")
    expect(page.locator("#recycle_after_days-error")).to_contain_text("Between 1 and 3650 days.")
    page.get_by_label("Retention callbacks, days after the win").fill("30, 60, 120")
    page.get_by_label("Then one callback every … days").fill("90")
    page.get_by_label("Recycle an open lead after … days without a touch").fill("45")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Job settings saved.")
    expect(page.get_by_label("Retention callbacks, days after the win")).to_have_value("30, 60, 120")
    expect(page.get_by_label("Recycle an open lead after … days without a touch")).to_have_value("45")
