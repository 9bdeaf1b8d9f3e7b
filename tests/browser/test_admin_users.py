"""An admin adds a rep through the pages, sees an error beside the field, then succeeds."""

from __future__ import annotations

from playwright.sync_api import expect

from crm.auth.service import create_user
from tests.browser.conftest import sign_in


def test_admin_creates_a_rep(live_server, page):
    live_server.run(lambda: create_user("root@touchline.example", "admin-password-1", "admin", name="Root Admin"))
    live_server.run(lambda: create_user("boss@touchline.example", "boss-password-1", "manager", team="Braga"))
    sign_in(page, live_server, "root@touchline.example", "admin-password-1")
    page.get_by_role("link", name="Admin", exact=True).click()
    page.get_by_role("link", name="Users").click()
    page.get_by_role("link", name="New user").click()
    page.get_by_label("Email").fill("tiago@touchline.example")
    page.get_by_label("Name").fill("Tiago Teixeira")
    page.get_by_label("Team").select_option(label="Braga")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Use at least 10 characters.")).to_be_visible()
    page.get_by_label("Password").fill("a-long-passphrase")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("link", name="Tiago Teixeira")).to_be_visible()
    expect(page.get_by_text("User tiago@touchline.example created.")).to_be_visible()
