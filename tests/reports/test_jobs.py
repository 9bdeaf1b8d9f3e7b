"""The weekly report and CSAT survey jobs: frozen time across zones, idempotent, opt-outs respected."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from crm.email.models import OutboundEmail
from crm.extensions import db
from crm.reports import surveys
from crm.scheduler.runner import discover_jobs
from crm.touches.models import Survey
from jobs import csat_surveys, weekly_reports
from tests import factories
from tests.reports.builders import lead_at, touch, utc


def _keys(prefix: str) -> list[str]:
    return list(db.session.scalars(select(OutboundEmail.idempotency_key)
                                   .where(OutboundEmail.idempotency_key.like(prefix + "%"))
                                   .order_by(OutboundEmail.idempotency_key)))


@pytest.fixture
def managers(db_session):
    team = factories.team()
    lisbon = factories.user("manager", team=team, timezone="Europe/Lisbon", name="Lis")
    tokyo = factories.user("manager", team=team, timezone="Asia/Tokyo", name="Tok")
    ny = factories.user("manager", team=team, timezone="America/New_York", name="Nyc")
    factories.user("manager", team=None, timezone="UTC")  # no team: no report
    rep = factories.user("rep", team=team)
    lead_at(rep, utc(2026, 6, 3, 9))
    return {"lisbon": lisbon, "tokyo": tokyo, "ny": ny}


def test_the_jobs_are_found_by_the_scheduler(app):
    names = discover_jobs().jobs
    assert {"weekly_reports", "csat_surveys"} <= set(names)


def test_weekly_report_goes_at_seven_on_monday_in_each_managers_zone(managers):
    # Monday 8 June 2026. Tokyo (UTC+9) reaches 07:00 on Sunday 22:00 UTC; Lisbon (UTC+1) at 06:00 UTC;
    # New York (UTC−4) at 11:00 UTC.
    with time_machine.travel(utc(2026, 6, 7, 21, 45), tick=False):
        assert weekly_reports.run(utc(2026, 6, 7, 21, 45)) == 0
    assert weekly_reports.run(utc(2026, 6, 7, 22, 0)) == 1
    assert weekly_reports.run(utc(2026, 6, 8, 5, 45)) == 0  # Lisbon 06:45, New York Sunday night
    assert weekly_reports.run(utc(2026, 6, 8, 6, 0)) == 1
    assert weekly_reports.run(utc(2026, 6, 8, 6, 15)) == 0  # already queued: once per week
    assert weekly_reports.run(utc(2026, 6, 8, 11, 0)) == 1
    assert _keys("weekly-report:") == sorted(f"weekly-report:{m.id}:2026-06-08" for m in managers.values())


def test_weekly_report_covers_last_week_and_names_the_figures(managers):
    weekly_reports.run(utc(2026, 6, 8, 6, 0))
    message = db.session.scalar(select(OutboundEmail).where(OutboundEmail.to_email == managers["lisbon"].email))
    assert "Jun 1, 2026 to Jun 7, 2026" in message.body_text
    assert "Leads created: 1 (the week before: 0)" in message.body_text
    assert "Connect rate: —" in message.body_text
    assert message.subject == "Your team's week: 1 new leads, 0 won"


def test_a_late_scheduler_still_sends_in_the_morning_but_not_after_noon(managers):
    assert weekly_reports.run(utc(2026, 6, 8, 10, 45)) == 1  # Lisbon 11:45 (Tokyo's Monday 19:45: too late)
    assert weekly_reports.run(utc(2026, 6, 15, 11, 0)) == 1  # next week: Lisbon at noon is too late, NY 07:00
    assert _keys(f"weekly-report:{managers['lisbon'].id}") == [f"weekly-report:{managers['lisbon'].id}:2026-06-08"]


@pytest.fixture
def talks(db_session):
    rep = factories.user("rep", team=factories.team())
    people = {name: factories.contact(**kw) for name, kw in {
        "ok": {}, "opted_out": {"email_opt_out": True}, "no_email": {"email": None}, "chatty": {}}.items()}
    leads = {name: lead_at(rep, utc(2026, 6, 1, 9), contact_obj=c) for name, c in people.items()}
    at = utc(2026, 6, 2, 10)
    made = {
        "ok": touch(rep, leads["ok"], "call", "outbound", "connected", at, talk_seconds=60),
        "opted_out": touch(rep, leads["opted_out"], "call", "outbound", "connected", at),
        "no_email": touch(rep, leads["no_email"], "call", "outbound", "connected", at),
        "chat": touch(rep, leads["chatty"], "chat", "inbound", "replied", at),
        "chat_again": touch(rep, leads["chatty"], "chat", "inbound", "replied", at + timedelta(minutes=5)),
        "missed": touch(rep, leads["ok"], "call", "outbound", "no_answer", at),
    }
    return {"rep": rep, "people": people, "touches": made}


def test_surveys_go_after_connected_calls_and_replied_chats_once_per_contact(talks):
    now = utc(2026, 6, 2, 10, 30)
    assert csat_surveys.run(now) == 2
    asked = {s.touch_id for s in db.session.scalars(select(Survey))}
    assert asked == {talks["touches"]["ok"].id, talks["touches"]["chat_again"].id}  # the newest of the chats
    assert _keys("csat:") == sorted(f"csat:{t}" for t in asked)
    message = db.session.scalar(select(OutboundEmail).where(OutboundEmail.idempotency_key ==
                                                             f"csat:{talks['touches']['ok'].id}"))
    survey = db.session.scalar(select(Survey).where(Survey.touch_id == talks["touches"]["ok"].id))
    assert f"/survey/{survey.token}" in message.body_text
    assert csat_surveys.run(now) == 0  # a rerun sends nothing twice


def test_a_contact_is_asked_at_most_once_per_period(talks, app):
    csat_surveys.run(utc(2026, 6, 2, 10, 30))
    ok = talks["people"]["ok"]
    lead = talks["touches"]["ok"].lead
    touch(talks["rep"], lead, "call", "outbound", "connected", utc(2026, 6, 20, 10))
    assert csat_surveys.run(utc(2026, 6, 20, 10, 30)) == 0  # asked 18 days ago; the default is 30
    touch(talks["rep"], lead, "call", "outbound", "connected", utc(2026, 7, 3, 10))
    assert csat_surveys.run(utc(2026, 7, 3, 10, 30)) == 1  # 31 days on: asked again
    assert db.session.scalar(select(func.count()).select_from(Survey).where(Survey.contact_id == ok.id)) == 2


def test_a_suppressed_address_gets_no_survey(talks):
    from crm.email.service import suppress

    suppress(talks["people"]["ok"].email, "bounce")
    assert csat_surveys.run(utc(2026, 6, 2, 10, 30)) == 1
    assert db.session.scalar(select(Survey).where(Survey.touch_id == talks["touches"]["ok"].id)) is None


def test_the_survey_page_records_the_first_answer_only(client, talks):
    surveys.send_due_surveys(utc(2026, 6, 2, 10, 30))
    survey = db.session.scalar(select(Survey).where(Survey.touch_id == talks["touches"]["ok"].id))
    with time_machine.travel(utc(2026, 6, 3, 9), tick=False):
        page = client.get(f"/survey/{survey.token}")
        assert page.status_code == 200 and 'type="radio"' in page.get_data(as_text=True)
        assert client.post(f"/survey/{survey.token}", data={}).status_code == 422
        done = client.post(f"/survey/{survey.token}", data={"score": "4", "comment": "Helpful"})
        assert done.status_code == 200 and 'data-testid="survey-done"' in done.get_data(as_text=True)
        again = client.post(f"/survey/{survey.token}", data={"score": "1"})
        assert "already have your answer" in again.get_data(as_text=True)
    db.session.refresh(survey)
    assert (survey.score, survey.comment, survey.answered_at) == (4, "Helpful", utc(2026, 6, 3, 9))


def test_bad_or_expired_survey_tokens_are_not_found(client, talks):
    surveys.send_due_surveys(utc(2026, 6, 2, 10, 30))
    survey = db.session.scalar(select(Survey).where(Survey.touch_id == talks["touches"]["ok"].id))
    assert client.get("/survey/not-a-token").status_code == 404
    assert client.get("/survey/" + "x" * 80).status_code == 404
    with time_machine.travel(utc(2026, 6, 17, 10, 31), tick=False):  # 14 days and a minute later
        assert client.get(f"/survey/{survey.token}").status_code == 404
        assert client.post(f"/survey/{survey.token}", data={"score": "5"}).status_code == 404
