"""A manager imports a CSV with one bad row through the page and downloads the rejects."""

from __future__ import annotations

from playwright.sync_api import expect

from crm.auth.service import create_user
from tests.browser.conftest import sign_in


def _people():
    create_user("imports.manager@touchline.example", "manager-pass-12", "manager", name="Iris Manager", team="Porto")
    create_user("porto.rep@touchline.example", "rep-password-12", "rep", name="Paulo Rep", team="Porto")


def test_import_with_progress_and_rejects(live_server, page, tmp_path):
    live_server.run(_people)
    csv_path = tmp_path / "people.csv"
    csv_path.write_text("Name;Email Address;Mobile Phone\nMarta Lopes;marta@example.pt;912 111 222\n"
                        "Bad Row;nope;\nRui Costa;rui@example.pt;913 333 444\n", encoding="cp1252")
    sign_in(page, live_server, "imports.manager@touchline.example", "manager-pass-12")
    page.get_by_role("link", name="Import").click()
    page.get_by_label("CSV file").set_input_files(str(csv_path))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_text("Which field is each column?")).to_be_visible()
    expect(page.get_by_label("Email Address")).to_have_value("email")
    page.get_by_role("button", name="Import").click()
    expect(page.locator('[data-field="status_label"]')).to_have_text("done")
    expect(page.locator('[data-field="created"]')).to_have_text("2")
    expect(page.locator('[data-field="rejected"]')).to_have_text("1")
    with page.expect_download() as download:
        page.get_by_test_id("rejects").click()
    text = download.value.path().read_text(encoding="utf-8")
    assert text.startswith("row,reason") and "nope" in text
