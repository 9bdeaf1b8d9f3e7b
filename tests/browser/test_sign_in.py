"""A manager signs in through the real page in Chromium and lands on the dashboard."""

from __future__ import annotations

from playwright.sync_api import expect

from crm.auth.service import create_user
from tests.browser.conftest import sign_in


def _manager():
    create_user("maria.manager@touchline.example", "demo-password-123", "manager", name="Maria Manager", team="Lisbon")


def test_manager_signs_in_and_sees_dashboard(live_server, page):
    live_server.run(_manager)
    sign_in(page, live_server, "maria.manager@touchline.example", "demo-password-123")
    expect(page.get_by_test_id("whoami")).to_contain_text("Maria Manager")
    expect(page.get_by_role("heading", name="Open pipeline")).to_be_visible()
    expect(page.get_by_test_id("pipeline")).to_be_visible()


def test_wrong_password_shows_error_beside_field(live_server, page):
    live_server.run(lambda: None)
    sign_in(page, live_server, "maria.manager@touchline.example", "not-the-password")
    expect(page.get_by_text("Wrong email or password.")).to_be_visible()
    assert page.url.endswith("/login")
