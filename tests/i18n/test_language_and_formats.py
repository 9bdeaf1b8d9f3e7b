"""The language a page is in (profile, else the browser) and how it writes money, numbers and times."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from flask import render_template_string

from crm.auth.models import Role
from tests import factories as f

NBSP = "\xa0"


def _sign_in(client, user):
    client.post("/login", data={"email": user.email, "password": f.PASSWORD})


@pytest.mark.parametrize(("header", "words", "lang"), [
    ("pt", "Iniciar sessão", "pt-PT"),
    ("pt-PT,pt;q=0.9", "Iniciar sessão", "pt-PT"),
    ("pt-BR", "Iniciar sessão", "pt-PT"),
    ("ro-RO,ro;q=0.9,en;q=0.5", "Autentificare", "ro"),
    ("ru", "Войти", "ru"),
    ("de-DE,fr;q=0.8", "Sign in", "en"),
    ("fr;q=0.9, ru;q=0.8", "Войти", "ru"),
])
def test_signed_out_pages_follow_the_browser_language(client, db_session, header, words, lang):
    page = client.get("/login", headers={"Accept-Language": header}).data.decode()
    assert words in page
    assert f'<html lang="{lang}">' in page


def test_signed_in_users_own_language_beats_the_browser(client, db_session):
    rep = f.user(Role.REP, f.team(), locale="ro")
    _sign_in(client, rep)
    page = client.get("/", headers={"Accept-Language": "ru"}).data.decode()
    assert "Lead-uri deschise" in page and "Deconectare" in page and "Выйти" not in page


@pytest.mark.parametrize(("header", "message"), [("pt", "Campo obrigatório."), ("ru", "Обязательное поле."),
                                               ("ro", "Acest câmp este obligatoriu.")])
def test_form_validators_speak_the_language_too(client, db_session, header, message):
    """WTForms' own messages ("This field is required.") come from its bundled catalogs."""
    page = client.post("/login", data={"email": "", "password": ""}, headers={"Accept-Language": header}).data.decode()
    assert page.count(message) == 2  # beside the email and the password


def test_signing_out_says_so_in_the_users_language_not_the_browsers(client, db_session):
    rep = f.user(Role.REP, f.team(), locale="ru")
    _sign_in(client, rep)
    client.post("/logout", headers={"Accept-Language": "pt"})
    with client.session_transaction() as session:
        assert [message for _category, message in session["_flashes"]] == ["Вы вышли из системы."]


@pytest.mark.parametrize(("locale", "written"), [
    ("en", "€1,234.50"),
    ("pt", f"1{NBSP}234,50{NBSP}€"),
    ("ro", f"1.234,50{NBSP}EUR"),
    ("ru", f"1{NBSP}234,50{NBSP}€"),
])
def test_lead_value_is_written_the_readers_way(client, db_session, locale, written):
    rep = f.user(Role.REP, f.team(), locale=locale)
    lead = f.lead(rep, value=Decimal("1234.50"), currency="EUR")
    _sign_in(client, rep)
    assert written in client.get(f"/leads/{lead.id}").data.decode()
    assert written in client.get("/leads").data.decode()


def test_money_in_another_currency_and_missing_values(app):
    with app.test_request_context(headers={"Accept-Language": "pt"}):
        assert render_template_string("{{ 99|money('usd') }}") == f"99,00{NBSP}US$"
        assert render_template_string("{{ none|money('EUR') }}") == "—"
        assert render_template_string("{{ 1234567|number }}") == f"1{NBSP}234{NBSP}567"


@pytest.mark.parametrize(("locale", "zone", "written"), [
    ("en", "America/New_York", "12/1/26, 10:30 AM"),
    ("pt", "Europe/Lisbon", "01/12/26, 15:30"),
    ("ro", "Europe/Bucharest", "01.12.2026, 17:30"),
    ("ru", "Asia/Vladivostok", "02.12.2026, 01:30"),
])
def test_times_are_in_the_readers_zone_and_language(client, db_session, locale, zone, written):
    rep = f.user(Role.REP, f.team(), locale=locale, timezone=zone)
    with time_machine.travel(datetime(2026, 12, 1, 15, 30, tzinfo=UTC), tick=False):
        f.lead(rep)
        _sign_in(client, rep)
        page = client.get("/leads").data.decode()
    assert written in page.replace("\u202f", " ")


@pytest.mark.parametrize(("locale", "written"), [("en", "7:30 AM"), ("pt", "07:30"), ("ru", "07:30")])
def test_contacts_local_time_stays_in_the_contacts_zone(client, db_session, locale, written):
    """A rep in Lisbon calling São Paulo sees São Paulo's wall clock, written their way."""
    rep = f.user(Role.REP, f.team(), locale=locale, timezone="Europe/Lisbon")
    lead = f.lead(rep, contact_obj=f.contact(timezone="America/Sao_Paulo"))
    with time_machine.travel(datetime(2026, 7, 1, 10, 30, tzinfo=UTC), tick=False):
        _sign_in(client, rep)
        page = client.get(f"/leads/{lead.id}").data.decode().replace("\u202f", " ")
    assert f'data-testid="contact-local-time">{written} · America/Sao_Paulo' in page


def test_contact_language_is_shown_by_name(client, db_session):
    rep = f.user(Role.REP, f.team(), locale="pt")
    lead = f.lead(rep, contact_obj=f.contact(locale="ru"))
    _sign_in(client, rep)
    assert "russo" in client.get(f"/contacts/{lead.contact_id}").data.decode()


def test_dashboard_numbers_and_stage_names_in_portuguese(client, db_session):
    rep = f.user(Role.REP, f.team(), locale="pt")
    for _ in range(3):
        f.lead(rep)
    _sign_in(client, rep)
    page = client.get("/").data.decode()
    assert "Oportunidades em aberto" in page and "Descoberta" in page and "Maturação" in page
    assert 'data-stage="discover">3<' in page


@pytest.mark.parametrize(("locale", "typed"), [("pt", "1 234,50"), ("ro", "1.234,50"), ("ru", "1 234,50"),
                                               ("en", "1,234.50"), ("pt", "1234.50")])
def test_values_are_read_the_way_the_user_writes_them(client, db_session, locale, typed):
    rep = f.user(Role.REP, f.team(), locale=locale)
    lead = f.lead(rep)
    _sign_in(client, rep)
    resp = client.post(f"/leads/{lead.id}/edit", data={"title": "Fibra", "value": typed, "currency": "EUR", "score": "0"})
    assert resp.status_code == 302
    db_session.expire_all()
    assert lead.value == Decimal("1234.50")


def test_a_value_that_is_no_number_is_refused_in_the_users_language(client, db_session):
    rep = f.user(Role.REP, f.team(), locale="pt")
    lead = f.lead(rep)
    _sign_in(client, rep)
    resp = client.post(f"/leads/{lead.id}/edit", data={"title": "Fibra", "value": "muito", "currency": "EUR", "score": "0"})
    assert resp.status_code == 422
    assert "O valor decimal não é válido." in resp.data.decode()
