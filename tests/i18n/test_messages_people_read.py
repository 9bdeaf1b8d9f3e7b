"""Errors, JSON messages, labels, first-run guidance and email text in the reader's language."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import select

from crm.auth.models import HandoffRule, Role
from crm.email.models import EmailStatus, OutboundEmail, TemplateKind
from crm.email.outbox import queue_email
from crm.email.sender import build_payload
from crm.handoffs.models import HandoffStatus
from crm.imports.models import ImportStatus
from crm.labels import LABELS, label
from crm.leads.models import LeadStatus, Stage
from crm.tasks.models import Task, TaskKind, TaskStatus
from crm.touches.models import Channel, Direction, Outcome
from jobs import reminders
from tests import factories as f
from tests.api_helpers import Api

SHOWN_ENUMS = [Stage, LeadStatus, Role, HandoffRule, Channel, Direction, Outcome, EmailStatus, TemplateKind, ImportStatus,
               TaskKind, TaskStatus, HandoffStatus]


def _sign_in(client, user):
    client.post("/login", data={"email": user.email, "password": f.PASSWORD})


@pytest.mark.parametrize("kind", SHOWN_ENUMS, ids=lambda k: k.__name__)
def test_every_value_people_see_has_a_label(kind: type[enum.Enum]):
    assert set(LABELS[kind.__name__]) == {member.value for member in kind}


def test_labels_follow_the_language_and_keep_stage_close_apart_from_the_close_button(app):
    with app.test_request_context(headers={"Accept-Language": "pt"}):
        assert label(Stage.CLOSE) == "Fecho" and label("close", "Stage") == "Fecho"
        assert label(Outcome.NO_ANSWER) == "sem resposta"
        assert label(Role.FIELD) == "Comercial de terreno"
        assert label("something_new") == "something new"  # a feature's new value still reads as words
        assert label(None) == ""


@pytest.mark.parametrize(("header", "message"), [
    ("en", "Send 'Authorization: Bearer <token>'; make one with `crm create-token`."),
    ("pt-BR", "Envie 'Authorization: Bearer <token>'; crie um com `crm create-token`."),
    ("ru", "Передайте 'Authorization: Bearer <token>'; токен создаётся командой `crm create-token`."),
])
def test_api_errors_keep_their_code_and_speak_the_callers_language(client, db_session, header, message):
    resp = client.get("/api/v1/me", headers={"Accept-Language": header})
    assert resp.status_code == 401
    assert resp.json["error"]["code"] == "unauthorized"
    assert resp.json["error"]["message"] == message


def test_api_field_errors_are_translated(client, db_session):
    api = Api(client, f.user(Role.REP, f.team()))
    api.headers["Accept-Language"] = "ro"
    resp = api.post("/contacts", json={"last_name": "x" * 200})
    assert resp.status_code == 422
    assert resp.json["error"]["message"] == "Unele câmpuri lipsesc sau sunt greșite."
    assert resp.json["error"]["fields"] == {"first_name": "Obligatoriu.", "last_name": "Cel mult 120 de caractere."}


def test_api_domain_errors_are_translated(client, db_session):
    rep = f.user(Role.REP, f.team())
    api = Api(client, rep)
    api.headers["Accept-Language"] = "ru"
    resp = api.post("/contacts", json={"first_name": "Иван", "phone": "12"})
    assert resp.status_code == 422
    assert resp.json["error"]["fields"]["phone"] in ("Это не номер телефона.", "Неправильный номер телефона.")
    missing = api.get("/leads/999999")
    assert missing.status_code == 404 and missing.json["error"]["message"] == "Такого лида нет."


def test_unknown_api_address_answers_in_the_callers_language(client, db_session):
    resp = client.get("/api/v1/nothing-here", headers={"Accept-Language": "pt"})
    assert resp.status_code in (401, 404)
    assert resp.json["error"]["message"] in ("Não há nada aqui, ou não tem acesso.",
                                             "Envie 'Authorization: Bearer <token>'; crie um com `crm create-token`.")


def test_stage_errors_and_flashes_on_the_lead_page_in_portuguese(client, db_session):
    rep = f.user(Role.REP, f.team(), locale="pt")
    lead = f.lead(rep)
    _sign_in(client, rep)
    page = client.post(f"/leads/{lead.id}/stage", data={"action": "stage", "stage": "nurture"},
                       follow_redirects=True).data.decode()
    assert "Oportunidade atualizada: Maturação, Aberta." in page
    refused = client.post(f"/leads/{lead.id}/stage", data={"action": "lost", "reason": ""}).data.decode()
    assert "Indique porque foi perdida a oportunidade." in refused or "É obrigatório indicar um motivo." in refused


def test_password_rules_use_the_languages_plural(client, db_session):
    rep = f.user(Role.REP, f.team(), locale="ru")
    _sign_in(client, rep)
    page = client.post("/profile", data={"name": rep.name, "locale": "ru", "timezone": "UTC",
                                         "current_password": f.PASSWORD, "new_password": "short"}).data.decode()
    assert "Используйте не меньше 10 символов." in page


def test_admins_first_visit_lists_what_to_set_up_first(client, db_session):
    admin = f.user(Role.ADMIN, locale="pt")
    _sign_in(client, admin)
    page = client.get("/admin/").data.decode()
    assert 'data-testid="first-steps"' in page
    assert "Crie uma equipa e defina o fuso horário" in page and "Adicione os seus comerciais" in page
    team = f.team()
    f.user(Role.REP, team)
    f.lost_reason()
    client.post("/admin/email-templates/new", data={"key": "follow_up", "locale": "en", "name": "Follow-up",
                                                     "kind": "transactional", "subject": "Hi", "body": "Hello"})
    assert 'data-testid="first-steps"' not in client.get("/admin/").data.decode()


def test_empty_contact_list_says_how_to_add_or_import(client, db_session):
    manager = f.user(Role.MANAGER, f.team())
    _sign_in(client, manager)
    page = client.get("/contacts").data.decode()
    assert "No contacts yet" in page and 'href="/contacts/new"' in page and 'href="/imports"' in page


def test_empty_contact_list_tells_a_rep_who_can_import(client, db_session):
    rep = f.user(Role.REP, f.team(), locale="ro")
    _sign_in(client, rep)
    page = client.get("/contacts").data.decode()
    assert "Încă nu există contacte" in page and "cereți unui manager sau administrator" in page
    assert 'href="/imports"' not in page


def test_empty_lead_list_explains_leads_and_filtered_list_offers_to_clear(client, db_session):
    rep = f.user(Role.REP, f.team())
    _sign_in(client, rep)
    assert "A lead is one chance to sell to one contact." in client.get("/leads").data.decode()
    filtered = client.get("/leads?stage=close").data.decode()
    assert "No leads match these filters." in filtered and "Clear the filters" in filtered


def test_unsubscribe_line_is_in_the_contacts_language(app, db_session):
    contact = f.contact(locale="pt-BR", email="ana@example.pt")
    message = queue_email(idempotency_key="i18n-footer", contact=contact, subject="Olá", body="Texto",
                          kind=TemplateKind.MARKETING)
    payload = build_payload(message, contact.locale)
    text = next(c["value"] for c in payload["content"] if c["type"] == "text/plain")
    html = next(c["value"] for c in payload["content"] if c["type"] == "text/html")
    assert "Cancelar subscrição:" in text and ">Cancelar subscrição</a>" in html
    assert "Unsubscribe:" in next(c["value"] for c in build_payload(message)["content"] if c["type"] == "text/plain")


def test_busy_buttons_and_live_flashes_are_on_every_page(client, db_session):
    rep = f.user(Role.REP, f.team(), locale="pt")
    lead = f.lead(rep, value=Decimal("10"))
    _sign_in(client, rep)
    page = client.get(f"/leads/{lead.id}").data.decode()
    assert 'data-loading-label="A processar…"' in page and "/static/forms.js" in page
    assert 'aria-live="polite"' in page and 'href="#main"' in page


@pytest.mark.parametrize(("locale", "subject", "greeting", "date"), [
    ("pt", "O seu dia: 1 para hoje, 0 em atraso", "Bom dia, Rita. Eis o seu dia.", "terça-feira, 20 de janeiro de 2026"),
    ("ru", "Ваш день: на сегодня 1, просрочено 0", "Доброе утро, Rita. Вот ваш день.", "вторник, 20 января 2026\u202fг."),
])
def test_morning_digest_is_written_in_the_reps_language(db_session, locale, subject, greeting, date):
    rep = f.user(Role.REP, f.team(), name="Rita", locale=locale, timezone="Europe/Lisbon")
    lead = f.lead(rep)
    eight = datetime(2026, 1, 20, 8, 0, tzinfo=UTC)
    db_session.add(Task(kind=TaskKind.CALL, title="Ligar", lead_id=lead.id, assignee_id=rep.id,
                        due_at=eight.replace(hour=11)))
    db_session.flush()
    with time_machine.travel(eight, tick=False):
        assert reminders.run(eight) == 1
    email = db_session.scalar(select(OutboundEmail).where(OutboundEmail.user_id == rep.id))
    assert email.subject == subject
    assert greeting in email.body_text and date in email.body_text
