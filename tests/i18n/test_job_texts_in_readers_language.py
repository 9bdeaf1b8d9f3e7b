"""What scheduled jobs (and other writers on someone else's behalf) leave for a person is in that person's language.

Jobs run with no request and no signed-in user; each text is rendered, when it is written, in the
profile language of the user it is for (crm.i18n.in_language_of), else the app's default.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import time_machine
from sqlalchemy import select

from crm.auth.models import Role
from crm.cadences.models import Cadence, CadenceStep
from crm.email.models import OutboundEmail
from crm.extensions import db
from crm.handoffs import service as handoffs
from crm.leads.models import StageChange
from crm.leads.service import change_stage, mark_won
from crm.tasks.models import Task, TaskKind
from crm.touches.models import Channel
from jobs import cadence as cadence_job
from jobs import recycle as recycle_job
from jobs import reminders as reminders_job
from jobs import retention as retention_job
from jobs import sla as sla_job
from tests import factories as f
from tests.email.test_inbound_parse import post, sendgrid_form
from tests.handoffs.conftest import FULL

TUESDAY = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # Lisbon is on UTC in December


def at(moment: datetime, job, *args):
    with time_machine.travel(moment, tick=False):
        return job.run(moment, *args)


def tasks_of(lead) -> list[Task]:
    return list(db.session.scalars(select(Task).where(Task.lead_id == lead.id).order_by(Task.id)))


def test_a_cadence_step_task_and_the_finish_note_are_in_the_owners_language(db_session):
    cadence = Cadence(name="SMS then done", is_default=False, steps=[
        CadenceStep(position=0, day_offset=0, channel=Channel.SMS, window_start=time(9), window_end=time(18))])
    db_session.add(cadence)
    db_session.flush()
    rita = f.user(Role.REP, f.team(), locale="pt", timezone="Europe/Lisbon")
    olga = f.user(Role.REP, f.team(), locale="ru", timezone="Europe/Lisbon")
    with time_machine.travel(TUESDAY - timedelta(hours=2), tick=False):
        pt_lead = f.lead(rita, f.contact(first_name="Ana", last_name="Sousa"), campaign=f.campaign(cadence_id=cadence.id))
        ru_lead = f.lead(olga, f.contact(first_name="Пётр", last_name="Ёлкин"),
                         campaign=f.campaign(cadence_id=cadence.id))
    assert at(TUESDAY, cadence_job) >= 2
    [pt_task] = tasks_of(pt_lead)
    [ru_task] = tasks_of(ru_lead)
    assert pt_task.title == "Passo 1 da cadência: SMS Ana Sousa"
    assert ru_task.title == "Шаг 1 цепочки касаний: SMS Пётр Ёлкин"
    # The only step is done and nobody was reached: the lead moves to nurture with a note for its owner.
    notes = {change.lead_id: change.note for change in db_session.scalars(
        select(StageChange).where(StageChange.lead_id.in_([pt_lead.id, ru_lead.id]), StageChange.to_stage == "nurture"))}
    assert notes == {pt_lead.id: "Cadência concluída; nunca contactado",
                     ru_lead.id: "Цепочка касаний пройдена; дозвониться не удалось"}


def test_a_step_names_its_channel_in_the_readers_words(db_session):
    cadence = Cadence(name="Social", is_default=False, steps=[
        CadenceStep(position=0, day_offset=0, channel=Channel.SOCIAL, window_start=time(9), window_end=time(18))])
    db_session.add(cadence)
    db_session.flush()
    rep = f.user(Role.REP, f.team(), locale="ro")
    with time_machine.travel(TUESDAY - timedelta(hours=2), tick=False):
        lead = f.lead(rep, f.contact(first_name="Mihai", last_name="Brăescu"), campaign=f.campaign(cadence_id=cadence.id))
    at(TUESDAY, cadence_job)
    [task] = tasks_of(lead)
    assert task.title == "Pasul 1 al cadenței: Rețele sociale Mihai Brăescu"  # not the stored word "social"


def test_the_recycle_note_is_in_the_former_owners_language_and_zone(db_session):
    with time_machine.travel(TUESDAY, tick=False):
        olga = f.user(Role.REP, f.team(), locale="ru", timezone="Europe/Moscow")
        lead = f.lead(olga)
        lead.last_touch_at = TUESDAY
        db_session.flush()
    assert at(TUESDAY + timedelta(days=31), recycle_job) == 1
    [note] = tasks_of(lead)
    assert note.title == "Возвращён в общий пул команды: 30 дн. без контакта"
    assert note.notes == f"Лид был у {olga.name}; последний контакт: 1 дек. 2026\u202fг. 13:00."  # 10:00 UTC in Moscow


def test_retention_callbacks_are_in_the_owners_language_with_local_dates(db_session):
    rita = f.user(Role.REP, f.team(), locale="pt", timezone="Europe/Lisbon")
    lead = f.lead(rita, f.contact(first_name="João", last_name="Gonçalves"))
    change_stage(lead, "nurture", actor=rita)
    change_stage(lead, "propose", actor=rita)
    mark_won(lead, actor=rita, value="1200", at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    assert at(datetime(2026, 3, 30, 12, 0, tzinfo=UTC), retention_job) == 1
    [task] = [t for t in tasks_of(lead) if t.kind == TaskKind.RETENTION_CALLBACK]
    assert task.title == "Chamada de retenção 1: João Gonçalves"
    assert task.notes.startswith("Ganha a 01/03/2026") or "01/03/2026" in task.notes, task.notes


def test_a_hand_off_sent_back_gives_the_inside_rep_a_task_in_their_language(db_session):
    team = f.team("Moscow", timezone="Europe/Moscow")
    olga = f.user(Role.REP, team, locale="ru", name="Olga")
    george = f.user(Role.FIELD, team, locale="en", name="George")
    lead = f.lead(olga, f.contact(country="RU", timezone="Europe/Moscow"), title="Склад в Твери")
    handoff = handoffs.hand_off(lead, actor=olga, qualification=FULL, to_user_id=george.id, now=TUESDAY)
    handoffs.send_back(handoff, actor=george, reason="No budget", now=TUESDAY + timedelta(hours=1))
    [task] = [t for t in tasks_of(lead) if t.kind == TaskKind.HANDOFF_REVIEW]
    assert task.assignee_id == olga.id and task.title == "Вернул(а) George: No budget"


def test_sla_and_speed_to_lead_emails_reach_each_manager_in_their_language(db_session):
    team = f.team("Lisbon", timezone="Europe/Lisbon", speed_to_lead_seconds=300, handoff_sla_hours=1)
    marta = f.user(Role.MANAGER, team, locale="pt")
    pavel = f.user(Role.MANAGER, team, locale="ru")
    rep = f.user(Role.REP, team)
    field = f.user(Role.FIELD, team)
    with time_machine.travel(TUESDAY, tick=False):
        waiting = f.lead(rep, title="Fibra para 40 postos")
        worked = f.lead(rep, title="Armazém")
        worked.first_touch_at = worked.last_touch_at = TUESDAY
        handoffs.hand_off(worked, actor=rep, qualification=FULL, to_user_id=field.id, now=TUESDAY)
    assert at(TUESDAY + timedelta(hours=2), sla_job) == 2
    subjects = {(m.to_email, m.subject) for m in db_session.scalars(
        select(OutboundEmail).where(OutboundEmail.to_email.in_([marta.email, pavel.email])))}
    assert subjects == {
        (marta.email, f"Tempo de resposta: {waiting.title} está à espera"),
        (pavel.email, f"Скорость реакции: {waiting.title} ждёт"),
        (marta.email, f"Passagem à espera há demasiado tempo: {worked.title}"),
        (pavel.email, f"Передача ждёт слишком долго: {worked.title}"),
    }


def test_the_morning_digest_is_in_the_reps_language(db_session):
    olga = f.user(Role.REP, f.team(), locale="ru", timezone="Europe/Lisbon")
    lead = f.lead(olga)
    db_session.add(Task(kind=TaskKind.CALL, title="Перезвонить", lead_id=lead.id, contact_id=lead.contact_id,
                        assignee_id=olga.id, due_at=TUESDAY + timedelta(hours=3), origin="manual"))
    db_session.flush()
    assert at(TUESDAY - timedelta(hours=1, minutes=45), reminders_job) == 1  # 08:15 in Lisbon
    mail = db_session.scalar(select(OutboundEmail).where(OutboundEmail.to_email == olga.email))
    assert mail.subject == "Ваш день: на сегодня 1, просрочено 0"
    assert "Перезвонить" in mail.body_text and "Here is your day" not in mail.body_text


def test_without_a_profile_language_texts_are_in_the_apps_default(app, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "pt")
    with time_machine.travel(TUESDAY, tick=False):
        rep = f.user(Role.REP, f.team(), locale="")
        lead = f.lead(rep)
        lead.last_touch_at = TUESDAY
        db_session.flush()
    at(TUESDAY + timedelta(days=31), recycle_job)
    [note] = tasks_of(lead)
    assert note.title == "De volta à bolsa da equipa: sem contacto há 30 dias"


def test_a_reply_by_email_gives_the_owner_a_task_in_their_language(client, db_session):
    rita = f.user(Role.REP, f.team(), locale="pt")
    contact = f.contact(first_name="Ana", last_name="Sousa", email="ana.sousa@example.pt")
    lead = f.lead(rita, contact_obj=contact)
    db_session.commit()
    body = sendgrid_form(sender="Ana Sousa <ana.sousa@example.pt>", to="sales@reply.touchline.example",
                         subject="Orçamento", text="Podemos falar amanhã?")
    resp = post(client, body, headers={"Accept-Language": "en"})
    assert resp.status_code == 200, resp.get_json()
    task = db_session.get(Task, resp.get_json()["task_id"])
    assert task.lead_id == lead.id and task.title == "Novo email de Ana Sousa: Orçamento"
