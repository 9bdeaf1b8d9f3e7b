"""/admin/cadences: list, create, edit steps with errors beside the field, set default, deactivate; admins only.
And the step badge on the lead page and the column on the lead list."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
import time_machine
from sqlalchemy import delete, select

from crm.audit.models import AuditEvent
from crm.auth.models import Role
from crm.cadences.models import Cadence
from crm.email.models import EmailTemplate
from tests import factories as f
from tests.cadences.helpers import call, default_cadence_in_place, new_lead


def sign_in(client, user):
    assert client.post("/login", data={"email": user.email, "password": f.PASSWORD}).status_code == 302


@pytest.fixture
def admin(client, db_session):
    default_cadence_in_place()
    user = f.user(Role.ADMIN)
    sign_in(client, user)
    return user


def step_rows(rows: list[dict]) -> dict:
    data = {}
    for i, row in enumerate(rows):
        for key, value in row.items():
            if value is True:
                data[f"steps-{i}-{key}"] = "y"
            elif value is not False and value is not None:
                data[f"steps-{i}-{key}"] = str(value)
    return data


CALL = {"position": 0, "day_offset": 0, "window_start": "09:00", "window_end": "12:00", "channel": "call"}


@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER, Role.FIELD])
def test_only_admins_edit_cadences(client, db_session, role):
    sign_in(client, f.user(role))
    assert client.get("/admin/cadences").status_code == 403
    assert client.post("/admin/cadences/new", data={"name": "Mine"}).status_code == 403


def test_the_list_shows_the_default_cadence_and_its_steps(client, admin):
    html = client.get("/admin/cadences").get_data(as_text=True)
    assert "Three calls, then an email" in html and "default" in html
    assert html.count("<li>day ") == 4 and "follow_up" in html and "only if never reached" in html
    assert 'data-testid="template-warning"' not in html


def test_create_a_cadence_with_two_steps(client, admin, db_session):
    data = {"name": "Webinar follow-up", **step_rows([
        CALL, {"position": 1, "day_offset": 2, "window_start": "14:00", "window_end": "16:00", "channel": "email",
               "template_key": "follow_up", "only_if_unreached": True},
        {"position": 2, "channel": ""}])}
    resp = client.post("/admin/cadences/new", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    cadence = db_session.scalar(select(Cadence).where(Cadence.name == "Webinar follow-up"))
    assert [(s.position, s.day_offset, s.window_start, s.channel.value, s.template_key, s.only_if_unreached)
            for s in cadence.steps] == [(0, 0, time(9), "call", None, False), (1, 2, time(14), "email", "follow_up", True)]
    assert not cadence.is_default and cadence.active
    assert db_session.scalar(select(AuditEvent.id).where(AuditEvent.action == "cadence.created",
                                                         AuditEvent.entity_id == cadence.id))


@pytest.mark.parametrize(("row", "field", "message"), [
    ({**CALL, "window_start": "14:00", "window_end": "12:00"}, "window_end", "The window must end after it starts."),
    ({**CALL, "day_offset": -1}, "day_offset", "The day offset cannot be negative."),
    ({**CALL, "channel": "email", "template_key": "no_such_template"}, "template_key",
     "There is no email template no_such_template."),
    ({**CALL, "channel": "email", "template_key": ""}, "template_key", "An email step needs a template."),
    ({**CALL, "window_start": "nine"}, "window_start", "Not a valid time value."),
])
def test_bad_steps_get_errors_beside_the_field(client, admin, db_session, row, field, message):
    resp = client.post("/admin/cadences/new", data={"name": "Broken", **step_rows([row])})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert f'id="steps-0-{field}-error">{message}</div>' in html.replace("&#39;", "'")
    assert db_session.scalar(select(Cadence.id).where(Cadence.name == "Broken")) is None


def test_two_steps_on_one_position_are_refused(client, admin):
    resp = client.post("/admin/cadences/new", data={"name": "Twins", **step_rows([CALL, CALL])})
    assert resp.status_code == 422 and 'id="steps-1-position-error"' in resp.get_data(as_text=True)


def test_edit_steps_remove_one_and_add_one(client, admin, db_session):
    cadence = db_session.scalar(select(Cadence).where(Cadence.is_default.is_(True)))
    form = client.get(f"/admin/cadences/{cadence.id}").get_data(as_text=True)
    assert 'name="steps-4-channel"' in form  # the blank row that adds a step
    rows = [{"position": s.position, "day_offset": s.day_offset, "window_start": s.window_start.strftime("%H:%M"),
             "window_end": s.window_end.strftime("%H:%M"), "channel": s.channel.value,
             "template_key": s.template_key or "", "only_if_unreached": s.only_if_unreached} for s in cadence.steps]
    rows[1]["remove"] = True
    rows[2]["window_start"], rows[2]["window_end"] = "18:00", "20:30"
    rows.append({"position": 4, "day_offset": 7, "window_start": "10:00", "window_end": "11:00", "channel": "sms"})
    resp = client.post(f"/admin/cadences/{cadence.id}", data={"name": cadence.name, **step_rows(rows)})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    db_session.expire_all()
    cadence = db_session.get(Cadence, cadence.id)
    assert [(s.position, s.channel.value) for s in cadence.steps] == [(0, "call"), (2, "call"), (3, "email"), (4, "sms")]
    assert cadence.steps[1].window_start == time(18)


def test_set_default_and_deactivate(client, admin, db_session):
    old = db_session.scalar(select(Cadence).where(Cadence.is_default.is_(True)))
    other = Cadence(name="Other")
    db_session.add(other)
    db_session.commit()
    resp = client.post(f"/admin/cadences/{old.id}/active", follow_redirects=True)
    assert "Make another cadence the default before deactivating this one." in resp.get_data(as_text=True)
    assert client.post(f"/admin/cadences/{other.id}/default").status_code == 302
    assert client.post(f"/admin/cadences/{old.id}/active").status_code == 302
    db_session.expire_all()
    assert db_session.get(Cadence, other.id).is_default and not db_session.get(Cadence, old.id).is_default
    assert not db_session.get(Cadence, old.id).active


def test_a_missing_template_is_a_visible_warning_with_the_skipped_leads(client, admin, db_session):
    db_session.execute(delete(EmailTemplate).where(EmailTemplate.key == "follow_up"))
    lead = new_lead(datetime(2026, 3, 28, 10, 30, tzinfo=UTC), "Europe/Lisbon")
    for at in (datetime(2026, 3, 28, 10, 31, tzinfo=UTC), datetime(2026, 3, 29, 13, 5, tzinfo=UTC),
               datetime(2026, 3, 31, 16, 10, tzinfo=UTC)):
        call(lead, at)
    html = client.get("/admin/cadences").get_data(as_text=True).replace("&#34;", '"')
    assert 'data-testid="template-warning"' in html and "“follow_up”, which does not exist" in html
    assert 'data-testid="template-alerts"' in html and f"lead {lead.id} skipped step 4" in html


def test_reps_see_the_step_on_the_lead_page_and_in_the_list(client, db_session):
    default_cadence_in_place()
    rep = f.user()
    lead = new_lead(datetime(2026, 3, 28, 10, 30, tzinfo=UTC), "Europe/Lisbon", owner=rep)
    call(lead, datetime(2026, 3, 28, 10, 31, tzinfo=UTC))
    sign_in(client, rep)
    with time_machine.travel(datetime(2026, 3, 28, 11, 0, tzinfo=UTC), tick=False):
        page = client.get(f"/leads/{lead.id}").get_data(as_text=True)
        listing = client.get("/leads").get_data(as_text=True)
    assert "Cadence step 2 of 4: Call" in page
    assert "step 2 of 4 · Call" in listing
    call(lead, datetime(2026, 3, 29, 13, 5, tzinfo=UTC), "connected")
    assert "Cadence ended: connected" in client.get(f"/leads/{lead.id}").get_data(as_text=True)


@pytest.mark.parametrize(("locale", "step", "ended"), [
    ("pt", "Passo 2 de 4 da cadência: Chamada", "Cadência terminada: atendida"),
    ("ro", "Pasul 2 din 4 al cadenței: Apel", "Cadență oprită: conectat"),
    ("ru", "Шаг 2 из 4 цепочки касаний: Звонок", "Цепочка касаний остановлена: дозвонились"),
])
def test_the_step_badge_reads_channel_and_end_reason_in_the_readers_language(client, db_session, locale, step, ended):
    default_cadence_in_place()
    rep = f.user(locale=locale)
    lead = new_lead(datetime(2026, 3, 28, 10, 30, tzinfo=UTC), "Europe/Lisbon", owner=rep)
    call(lead, datetime(2026, 3, 28, 10, 31, tzinfo=UTC))
    sign_in(client, rep)
    with time_machine.travel(datetime(2026, 3, 28, 11, 0, tzinfo=UTC), tick=False):
        assert step in client.get(f"/leads/{lead.id}").get_data(as_text=True)
    call(lead, datetime(2026, 3, 29, 13, 5, tzinfo=UTC), "connected")
    assert ended in client.get(f"/leads/{lead.id}").get_data(as_text=True)


def test_the_lead_list_reads_cadence_steps_in_a_fixed_number_of_queries(client, db_session, count_queries):
    default_cadence_in_place()
    rep = f.user()
    sign_in(client, rep)
    counts = []
    for how_many in (2, 10):
        for _ in range(how_many):
            f.lead(rep)
        with count_queries() as counter:
            assert client.get("/leads").status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1]
