"""A rep whose language is Portuguese works through the day: everything reads in European Portuguese.

Also the lead page on a phone (390×844): nothing wider than the screen, every control reachable.
Screenshots go to test-artifacts/ (pt-*.png).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from playwright.sync_api import expect

from crm.auth.service import create_user
from crm.contacts.models import Contact
from crm.extensions import db
from crm.leads.service import create_lead
from crm.touches.service import log_touch
from tests.browser.conftest import ARTIFACTS

EMAIL, PASSWORD = "ines@touchline.example", "rep-password-12"


def _data():
    rep = create_user(EMAIL, PASSWORD, "rep", name="Inês Rep", team="Porto", timezone="Europe/Lisbon", locale="pt")
    contact = Contact(first_name="João", last_name="Conceição", phone="+351912444888", email="joao@example.pt",
                      timezone="America/Sao_Paulo", locale="pt-BR", team_id=rep.team_id)
    db.session.add(contact)
    db.session.flush()
    lead = create_lead(contact, actor=rep, owner=rep, title="Fibra para 40 postos", value=Decimal("1234.50"), currency="EUR")
    log_touch(contact=contact, lead=lead, user=rep, channel="call", direction="outbound", outcome="no_answer")
    return lead.id, contact.id


def _sign_in_in_portuguese(browser, server, viewport):
    context = browser.new_context(viewport=viewport, locale="pt-PT")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(server.url + "/login")
    expect(page.locator("html")).to_have_attribute("lang", "pt-PT")  # the browser's language, before signing in
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Palavra-passe").fill(PASSWORD)
    page.get_by_role("button", name="Iniciar sessão").click()
    return context, page


@pytest.fixture(scope="module")
def seeded(live_server):
    return live_server.run(_data)


def test_rep_works_in_portuguese(live_server, browser, seeded):
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = _sign_in_in_portuguese(browser, live_server, {"width": 1280, "height": 860})
    try:
        expect(page.get_by_role("heading", level=1)).to_have_text("Que bom vê-lo, Inês Rep")
        expect(page.get_by_test_id("pipeline")).to_contain_text("Descoberta")
        expect(page.get_by_test_id("whoami")).to_contain_text("Comercial interno")
        page.screenshot(path=str(ARTIFACTS / "pt-dashboard.png"), full_page=True)

        page.get_by_role("link", name="Contactos").click()
        page.get_by_label("Ordem").select_option("name")
        page.get_by_role("button", name="Pesquisar").click()
        page.get_by_role("link", name="João Conceição").click()
        expect(page.get_by_role("heading", name="Histórico")).to_be_visible()
        expect(page.get_by_test_id("timeline")).to_contain_text("sem resposta")
        expect(page.get_by_test_id("timeline")).to_contain_text("Oportunidade criada em Descoberta")
        expect(page.locator("dd", has_text="português (Brasil)")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "pt-contact.png"), full_page=True)

        page.get_by_role("link", name="Fibra para 40 postos").click()
        expect(page.get_by_test_id("lead-stage")).to_have_text("Descoberta")
        expect(page.get_by_test_id("lead-status")).to_have_text("Aberta")
        expect(page.locator("dd", has_text="€")).to_have_text("1\xa0234,50\xa0€")
        today = format_date(datetime.now(UTC).astimezone(ZoneInfo("Europe/Lisbon")), "short", locale="pt_PT")
        expect(page.get_by_test_id("timeline")).to_contain_text(today)  # dd/mm/aa, in the rep's zone

        # The move button says it is working while the answer is on its way: keep the form from
        # leaving (a listener after ours) to look at the button in that moment.
        page.evaluate("window.addEventListener('submit', event => event.preventDefault(), {once: true})")
        page.get_by_role("button", name="Mover").click()
        busy = page.locator("button[aria-busy=true]")
        expect(busy).to_be_disabled()
        expect(busy).to_contain_text("A processar…")
        page.reload()
        page.get_by_role("button", name="Mover").click()
        expect(page.get_by_role("alert")).to_contain_text("Oportunidade atualizada: Maturação, Aberta.")
        expect(page.get_by_test_id("lead-stage")).to_have_text("Maturação")
        page.screenshot(path=str(ARTIFACTS / "pt-lead.png"), full_page=True)
    finally:
        context.close()


def test_lead_page_fits_a_phone(live_server, browser, seeded):
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = _sign_in_in_portuguese(browser, live_server, {"width": 390, "height": 844})
    try:
        page.get_by_role("button", name="Menu").click()
        page.get_by_role("link", name="Oportunidades").click()
        page.get_by_role("link", name="Fibra para 40 postos").click()
        expect(page.get_by_test_id("lead-stage")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
        for control in page.locator("main select, main input:not([type=hidden]), main textarea").all():
            name = control.evaluate("el => (el.labels && el.labels.length) || el.getAttribute('aria-label')")
            assert name, control.evaluate("el => el.outerHTML")
        page.screenshot(path=str(ARTIFACTS / "pt-lead-phone.png"), full_page=True)
    finally:
        context.close()
