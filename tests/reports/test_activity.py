"""Rep activity, inbound and cost figures on hand-built touches, tasks and hand-offs."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine

from crm.extensions import db
from crm.handoffs.models import Handoff, HandoffStatus
from crm.leads.models import Stage
from crm.reports import service
from crm.reports.periods import Criteria, Period
from crm.tasks.models import Task, TaskStatus
from crm.touches.models import Survey
from tests import factories
from tests.reports.builders import lead_at, move, touch, utc, win

WEEK = Period(date(2026, 6, 1), date(2026, 6, 7), "UTC")


@pytest.fixture
def floor(db_session):
    team = factories.team()
    ana = factories.user("rep", team=team, name="Ana", hourly_cost=Decimal("36.00"))
    rui = factories.user("rep", team=team, name="Rui", hourly_cost=Decimal("18.00"))
    field = factories.user("field", team=team, name="Fia")
    campaign = factories.campaign(team, spend=Decimal("700.00"), starts_on=date(2026, 6, 1), ends_on=date(2026, 6, 7))
    l1 = lead_at(ana, utc(2026, 6, 1, 9), campaign=campaign)
    l2 = lead_at(ana, utc(2026, 6, 2, 9), campaign=campaign)
    l3 = lead_at(rui, utc(2026, 6, 3, 9))
    l1.first_touch_at = utc(2026, 6, 1, 9, 5)  # 300 s
    l2.first_touch_at = utc(2026, 6, 2, 9, 15)  # 900 s
    l3.first_touch_at = utc(2026, 6, 3, 10)  # 3600 s
    lead_at(ana, utc(2026, 6, 4, 9))  # never touched
    # Ana: 3 outbound calls to l1 (one connected), 1 to l2 (connected), 1 inbound connected, an email, a chat
    touch(ana, l1, "call", "outbound", "no_answer", utc(2026, 6, 1, 9, 5))
    touch(ana, l1, "call", "outbound", "voicemail", utc(2026, 6, 1, 12))
    touch(ana, l1, "call", "outbound", "connected", utc(2026, 6, 2, 10), talk_seconds=300, hold_seconds=30,
          wrap_seconds=30)
    touch(ana, l2, "call", "outbound", "connected", utc(2026, 6, 2, 9, 15), talk_seconds=100, hold_seconds=0,
          wrap_seconds=20)
    touch(ana, l2, "call", "inbound", "connected", utc(2026, 6, 3, 11), talk_seconds=200, hold_seconds=10,
          wrap_seconds=30, queue_seconds=15)
    touch(ana, l1, "email", "outbound", "sent", utc(2026, 6, 3, 12))
    touch(ana, l2, "chat", "outbound", "sent", utc(2026, 6, 3, 13))
    # Rui: one outbound no answer; inbound calls: one answered late, one abandoned, one still queued
    touch(rui, l3, "call", "outbound", "busy", utc(2026, 6, 3, 10))
    touch(rui, l3, "call", "inbound", "connected", utc(2026, 6, 4, 10), talk_seconds=60, queue_seconds=45)
    touch(None, l3, "call", "inbound", "abandoned", utc(2026, 6, 4, 11), queue_seconds=30)
    touch(None, l3, "call", "inbound", "queued", utc(2026, 6, 4, 12), queue_seconds=5)
    touch(ana, l1, "call", "outbound", "connected", utc(2026, 5, 30, 10), talk_seconds=50)  # previous period
    # Tasks: Ana has 3 due (one done on time, one late, one open), one cancelled; one due later than now
    for due, status, done_at in [(utc(2026, 6, 2, 9), TaskStatus.DONE, utc(2026, 6, 2, 8)),
                                 (utc(2026, 6, 3, 9), TaskStatus.DONE, utc(2026, 6, 3, 10)),
                                 (utc(2026, 6, 4, 9), TaskStatus.OPEN, None),
                                 (utc(2026, 6, 4, 9), TaskStatus.CANCELLED, None),
                                 (utc(2026, 6, 7, 9), TaskStatus.OPEN, None)]:
        db.session.add(Task(title="Call back", lead=l1, assignee=ana, due_at=due, status=status, completed_at=done_at))
    # Hand-offs from Ana: accepted after 2 h (lead later won), accepted after 6 h, rejected, pending
    move(l1, (Stage.NURTURE, utc(2026, 6, 2, 11)), (Stage.PROPOSE, utc(2026, 6, 3, 11)))
    win(l1, utc(2026, 6, 5, 11), "5000")
    for lead, status, sent, decided in [(l1, HandoffStatus.ACCEPTED, utc(2026, 6, 3, 12), utc(2026, 6, 3, 14)),
                                        (l2, HandoffStatus.ACCEPTED, utc(2026, 6, 4, 8), utc(2026, 6, 4, 14)),
                                        (l2, HandoffStatus.REJECTED, utc(2026, 6, 2, 8), utc(2026, 6, 2, 9)),
                                        (l3, HandoffStatus.PENDING, utc(2026, 6, 5, 8), None)]:
        db.session.add(Handoff(lead=lead, from_user=ana, to_user=field, status=status, created_at=sent,
                               submitted_at=sent, decided_at=decided))
    db.session.flush()
    return {"team": team, "ana": ana, "rui": rui, "campaign": campaign, "leads": (l1, l2, l3)}


def _rows(result):
    return {row["name"]: row["current"] for row in result["reps"]}


@time_machine.travel(utc(2026, 6, 5, 12), tick=False)
def test_rep_activity_counts_and_ratios(floor):
    result = service.activity(Criteria(WEEK, team_id=floor["team"].id))
    ana = _rows(result)["Ana"]
    assert (ana["outbound_calls"], ana["connects"], ana["completed_calls"]) == (4, 2, 3)
    assert ana["connect_rate"] == 0.5
    assert ana["talk_seconds"] == 600
    assert ana["avg_talk_seconds"] == 200.0
    assert ana["aht_seconds"] == pytest.approx(720 / 3)  # (360 + 120 + 240) / 3
    assert (ana["leads_called"], ana["attempts_per_lead"], ana["leads_worked"]) == (2, 2.0, 2)
    assert (ana["emails"], ana["chats"], ana["social"]) == (1, 1, 0)
    assert ana["speed_to_lead_median_seconds"] == 600.0  # 300 and 900
    assert ana["speed_to_lead_p90_seconds"] == 900.0
    assert ana["untouched_leads"] == 1
    assert (ana["tasks_due"], ana["tasks_done_on_time"]) == (3, 1)  # the 7 June one is not due yet
    assert ana["follow_up_compliance"] == pytest.approx(1 / 3)
    assert (ana["handoffs_sent"], ana["handoffs_accepted"], ana["handoffs_rejected"]) == (4, 2, 1)
    assert ana["acceptance_rate"] == pytest.approx(2 / 3)
    assert ana["median_hours_to_accept"] == 4.0
    assert ana["handoff_won_rate"] == 0.5


@time_machine.travel(utc(2026, 6, 5, 12), tick=False)
def test_totals_sum_the_reps_and_take_percentiles_over_everyone(floor):
    result = service.activity(Criteria(WEEK, team_id=floor["team"].id))
    rui = _rows(result)["Rui"]
    assert (rui["outbound_calls"], rui["connects"], rui["connect_rate"]) == (1, 0, 0.0)
    assert rui["avg_talk_seconds"] == 60.0
    assert rui["follow_up_compliance"] is None  # no tasks due: a dash
    total = result["total"]["current"]
    assert (total["outbound_calls"], total["connects"], total["completed_calls"]) == (5, 2, 4)
    assert total["connect_rate"] == 0.4
    assert total["speed_to_lead_median_seconds"] == 900.0  # 300, 900, 3600
    assert total["speed_to_lead_p90_seconds"] == 3600.0
    assert result["total"]["previous"]["connects"] == 1
    assert [row["name"] for row in result["reps"]] == ["Ana", "Rui"]  # the field rep has no activity


@time_machine.travel(utc(2026, 6, 5, 12), tick=False)
def test_a_rep_sees_only_their_row(floor):
    result = service.activity(Criteria(WEEK, rep_id=floor["rui"].id))
    assert [row["name"] for row in result["reps"]] == ["Rui"]
    assert result["total"]["current"]["outbound_calls"] == 1


def test_inbound_contact_centre_figures(floor):
    f = service.inbound(Criteria(WEEK), answer_within=20)["current"]
    # offered: Ana's answered in 15 s, Rui's answered in 45 s, one abandoned after 30 s (the queued one has not ended)
    assert (f["offered"], f["answered"], f["abandoned"]) == (3, 2, 1)
    assert f["abandon_rate"] == pytest.approx(1 / 3)
    assert f["asa_seconds"] == 30.0
    assert f["service_level"] == pytest.approx(1 / 3)
    assert f["avg_queue_seconds"] == 30.0
    assert service.inbound(Criteria(WEEK), answer_within=45)["current"]["service_level"] == pytest.approx(2 / 3)


def test_a_call_the_phone_system_saw_answered_counts_as_answered_whatever_its_disposition(floor):
    ana, lead = floor["ana"], floor["leads"][0]
    at = utc(2026, 6, 2, 11, 0)
    touch(ana, lead, "call", "inbound", "wrong_number", at, queue_seconds=10, talk_seconds=20,
          queued_at=at, answered_at=at + timedelta(seconds=10))
    f = service.inbound(Criteria(WEEK), answer_within=20)["current"]
    assert (f["offered"], f["answered"], f["abandoned"]) == (4, 3, 1)
    assert f["asa_seconds"] == pytest.approx((15 + 45 + 10) / 3)
    assert f["service_level"] == pytest.approx(2 / 4)


def test_csat_is_the_share_of_fours_and_fives(floor):
    ana = floor["ana"]
    l1 = floor["leads"][0]
    for n, score in enumerate([5, 4, 3, 1, None]):
        t = touch(ana, l1, "call", "outbound", "connected", utc(2026, 6, 1, 15, n))
        db.session.add(Survey(touch=t, contact_id=l1.contact_id, user_id=ana.id, token=f"tok-{n}-{t.id}",
                              sent_at=utc(2026, 6, 1, 16), score=score,
                              answered_at=utc(2026, 6, 2, 9) if score else None))
    db.session.flush()
    f = service.inbound(Criteria(WEEK))["current"]
    assert (f["surveys_answered"], f["csat"]) == (4, 0.5)
    assert service.inbound(Criteria(WEEK, rep_id=floor["rui"].id))["current"]["csat"] is None


def test_cost_per_call_and_per_campaign(floor):
    result = service.cost(Criteria(WEEK))
    f = result["current"]
    # calls in the week: Ana 5 (handle 0, 0, 360, 120, 240 s at 36/h = 7.20), Rui 2 (0 and 60 s at 18/h = 0.30),
    # and 2 without a rep
    assert f["calls"] == 9
    assert f["call_labour"] == Decimal("7.50")
    assert f["cost_per_call"] == Decimal("0.83")
    (row,) = [r for r in result["campaigns"] if r["id"] == floor["campaign"].id]
    c = row["current"]
    # Ana's touches on the campaign's leads: 360 + 120 + 240 s (+ email/chat 0) = 720 s at 36/h = 7.20
    assert (c["spend"], c["labour"], c["cost"]) == (Decimal("700.00"), Decimal("7.20"), Decimal("707.20"))
    assert (c["leads"], c["won"], c["won_value"]) == (2, 1, Decimal("5000.00"))
    assert c["cost_per_lead"] == Decimal("353.60")
    assert c["cost_per_won"] == Decimal("707.20")
    assert c["return_on_cost"] == pytest.approx(5000 / 707.2)
    assert row["previous"]["spend"] == Decimal("0.00")  # the campaign ran only this week


def test_spend_is_prorated_to_the_days_in_the_period(floor):
    half = Period(date(2026, 6, 5), date(2026, 6, 11), "UTC")  # 3 of the campaign's 7 days
    (row,) = [r for r in service.cost(Criteria(half, campaign_id=floor["campaign"].id))["campaigns"]]
    assert row["current"]["spend"] == Decimal("300.00")
    assert row["current"]["cost_per_lead"] is None  # no leads of it created then


def test_empty_period_is_all_dashes(db_session):
    empty = Criteria(Period(date(2030, 1, 1), date(2030, 1, 7), "UTC"))
    total = service.activity(empty)["total"]["current"]
    assert total["outbound_calls"] == 0
    assert total["connect_rate"] is None and total["aht_seconds"] is None
    assert total["speed_to_lead_median_seconds"] is None
    inbound = service.inbound(empty)["current"]
    assert (inbound["service_level"], inbound["asa_seconds"], inbound["csat"]) == (None, None, None)
    assert service.cost(empty)["current"]["cost_per_call"] is None


def test_a_teams_inbound_figures_include_its_abandoned_calls_with_no_rep(floor):
    team_view = service.inbound(Criteria(WEEK, team_id=floor["team"].id), answer_within=20)["current"]
    assert (team_view["offered"], team_view["abandoned"]) == (3, 1)
    elsewhere = service.inbound(Criteria(WEEK, team_id=factories.team().id))["current"]
    assert elsewhere["offered"] == 0


def test_a_manager_without_a_team_sees_only_their_own_figures(db_session):
    from crm.access import report_criteria_scope

    loner = factories.user("manager", team=None)
    assert report_criteria_scope(loner) == {"team_id": None, "rep_id": loner.id}
