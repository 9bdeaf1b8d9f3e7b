"""The rollup-backed reports answer exactly what the raw computation answers.

Activity: the rep-hours and rep-lead pairs (crm/reports/rollups.py) against the touches themselves,
before the job has run (everything marked), after it, and after late or changed touches, for
periods whose edges fall on :30 and :45 local midnights and on a daylight-saving change. Funnel:
the facts the stage-change triggers keep against the stage history.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.leads.models import Lead, Stage
from crm.reports import rollups, service
from crm.reports.models import ActivityHour, ActivityMark, RepLead
from crm.reports.periods import Criteria, Period
from crm.scheduler.runner import run_job
from tests import factories
from tests.reports.builders import jump, lead_at, lose, move, touch, utc, win

# Period edges at local midnight: UTC+5:30, UTC+5:45, UTC−3:30/−2:30, Lisbon across its March change.
ZONES = ["Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "Europe/Lisbon", "UTC"]
PERIODS = [Period(date(2026, 3, 10), date(2026, 3, 30), zone) for zone in ZONES] + [
    Period(date(2026, 3, 29), date(2026, 3, 29), "Europe/Lisbon"),  # a 23-hour day
    Period(date(2026, 3, 1), date(2026, 4, 4), "Asia/Kathmandu")]
CHANNELS = [("call", "outbound", "connected"), ("call", "outbound", "no_answer"), ("call", "inbound", "connected"),
            ("call", "inbound", "abandoned"), ("email", "outbound", "sent"), ("email", "inbound", "received"),
            ("chat", "outbound", "sent"), ("social", "outbound", "sent"), ("sms", "outbound", "sent"),
            ("meeting", "outbound", "held")]


@pytest.fixture
def floor(db_session):
    """Three reps (two in one team), twelve leads, 400 touches spread over February to April at odd minutes."""
    rng = random.Random(8)
    team, other_team = factories.team(), factories.team()
    reps = [factories.user("rep", team=team, name="Ana"), factories.user("rep", team=team, name="Rui"),
            factories.user("rep", team=other_team, name="Ion")]
    leads = [lead_at(rng.choice(reps), utc(2026, 2, 20) + timedelta(hours=rng.randint(0, 900))) for _ in range(12)]
    for _ in range(400):
        _random_touch(rng, reps, leads)
    return {"team": team, "reps": reps, "leads": leads, "rng": rng}


def _random_touch(rng, reps, leads, at=None):
    channel, direction, outcome = rng.choice(CHANNELS)
    at = at or utc(2026, 2, 25) + timedelta(minutes=rng.randint(0, 60 * 24 * 45))
    lead = rng.choice(leads + [None])
    return touch(rng.choice(reps + [None]), lead, channel, direction, outcome, at,
                 contact=None if lead else leads[0].contact, talk_seconds=rng.randint(0, 600),
                 hold_seconds=rng.randint(0, 60), wrap_seconds=rng.randint(0, 90))


def _scopes(floor):
    reps = floor["reps"]
    return [{}, {"team_id": floor["team"].id}, {"rep_id": reps[2].id}]


def _assert_same_as_raw(floor, periods=PERIODS):
    for period in periods:
        for scope in _scopes(floor):
            criteria = Criteria(period, **scope)
            now = utc(2026, 6, 1)
            assert service.activity(criteria, now) == service.activity(criteria, now, from_touches=True), (period, scope)


def _refresh():
    done = rollups.refresh_activity_rollups()
    assert db.session.scalar(select(func.count()).select_from(ActivityMark)) == 0
    return done


def test_activity_from_rollups_equals_the_touches_before_and_after_the_job(floor):
    assert db.session.scalar(select(func.count()).select_from(ActivityMark)) > 0  # the trigger noted them all
    _assert_same_as_raw(floor)  # every hour and pair still marked: read from the touches
    assert _refresh() > 0
    assert db.session.scalar(select(func.count()).select_from(ActivityHour)) > 0
    assert db.session.scalar(select(func.count()).select_from(RepLead)) > 0
    split = rollups.split_span(Criteria(PERIODS[0]).span_start, Criteria(PERIODS[0]).current_start,
                               Criteria(PERIODS[0]).end)
    assert split.days and split.hours and split.raw  # whole UTC days, hours around them, the :30 fringes raw
    _assert_same_as_raw(floor)
    assert _refresh() == 0  # nothing new to do


def test_late_and_changed_touches_count_at_once_and_after_the_job(floor):
    _refresh()
    rng, reps, leads = floor["rng"], floor["reps"], floor["leads"]
    # A touch logged now for an old, rolled-up hour; another just before a :45 midnight.
    _random_touch(rng, reps, leads, at=utc(2026, 3, 15, 10, 20))
    touch(reps[0], leads[1], "call", "outbound", "connected", utc(2026, 3, 9, 18, 14), talk_seconds=77)
    _assert_same_as_raw(floor)
    _refresh()
    _assert_same_as_raw(floor)
    # Calls updated by a webhook later: outcome and seconds, another rep, another lead, a new time across an edge.
    changed = db.session.scalars(select(rollups.Touch).where(rollups.Touch.user_id.is_not(None))
                                 .order_by(rollups.Touch.id).limit(6)).all()
    changed[0].outcome, changed[0].talk_seconds = "connected", 500
    changed[1].user_id = reps[2].id
    changed[2].lead_id = leads[5].id
    changed[3].occurred_at = utc(2026, 3, 30, 18, 30)
    changed[4].user_id = None
    db.session.delete(changed[5])
    db.session.flush()
    _assert_same_as_raw(floor)
    _refresh()
    _assert_same_as_raw(floor)


def test_a_lead_touched_before_and_after_a_period_but_not_in_it_was_not_worked_in_it(db_session):
    rep = factories.user("rep")
    lead = lead_at(rep, utc(2026, 1, 5))
    touch(rep, lead, "call", "outbound", "no_answer", utc(2026, 1, 5, 10))
    touch(rep, lead, "call", "outbound", "connected", utc(2026, 5, 5, 10))
    touch(rep, lead, "email", "outbound", "sent", utc(2026, 3, 12, 10))  # worked, not called, in March
    _refresh()
    march = Criteria(Period(date(2026, 3, 1), date(2026, 3, 31), "UTC"))
    feb = Criteria(Period(date(2026, 2, 15), date(2026, 2, 28), "UTC"))
    now = utc(2026, 6, 1)
    (row,) = service.activity(march, now)["reps"]
    assert (row["current"]["leads_worked"], row["current"]["leads_called"], row["current"]["emails"]) == (1, 0, 1)
    assert service.activity(feb, now)["reps"] == []  # nothing in February
    for criteria in (march, feb):
        assert service.activity(criteria, now) == service.activity(criteria, now, from_touches=True)


def test_filters_the_rollups_cannot_answer_read_the_touches(floor):
    _refresh()
    lead = floor["leads"][0]
    for scope in ({"channel": "call"}, {"campaign_id": lead.campaign_id or 1}, {"source_id": 1}):
        criteria = Criteria(PERIODS[0], **scope)
        assert not service.rollups_apply(criteria)
        assert "leads" not in service.activity_statements(criteria)
        assert service.activity(criteria) == service.activity(criteria, from_touches=True)


def test_the_rollup_job_rebuilds_then_has_nothing_left(floor):
    first = run_job("activity_rollups")
    assert first.error == "" and first.items > 0
    again = run_job("activity_rollups")
    assert (again.error, again.items) == ("", 0)
    _assert_same_as_raw(floor, PERIODS[:2])


def test_rebuilding_everything_matches_the_job(floor):
    _refresh()
    built = {r.hour: r for r in db.session.scalars(select(ActivityHour))}
    rollups.rebuild_all_activity_rollups()
    db.session.expire_all()
    again = {r.hour: r for r in db.session.scalars(select(ActivityHour))}
    assert sorted(built) == sorted(again)
    _assert_same_as_raw(floor, PERIODS[:2])


# ---------------------------------------------------------------- funnel facts

@pytest.fixture
def cohort(db_session):
    team = factories.team()
    rep = factories.user("rep", team=team)
    reason = factories.lost_reason("No budget")
    plain = lead_at(rep, utc(2026, 3, 2, 12))
    l2 = lead_at(rep, utc(2026, 3, 3, 12))
    move(l2, (Stage.NURTURE, utc(2026, 3, 5, 12)), (Stage.PROPOSE, utc(2026, 3, 9, 12)))
    win(l2, utc(2026, 3, 10, 12), "1000")
    l3 = lead_at(rep, utc(2026, 3, 4, 18, 20))  # 5 March 00:05 in Kathmandu
    move(l3, (Stage.NURTURE, utc(2026, 3, 5, 12)), (Stage.PROPOSE, utc(2026, 3, 6, 12)), (Stage.NURTURE, utc(2026, 3, 8)))
    lose(l3, utc(2026, 3, 9, 12), reason)
    l4 = lead_at(rep, utc(2026, 3, 31, 18, 29))  # 23:59 in Kolkata
    jump(l4, Stage.CLOSE, utc(2026, 4, 2))  # skipped two stages
    l5 = lead_at(rep, utc(2026, 2, 27, 23, 50))
    move(l5, (Stage.NURTURE, utc(2026, 3, 20)))
    jump(l5, Stage.PROPOSE, utc(2026, 3, 10))  # written late: a stage change between two others
    return {"team": team, "rep": rep, "leads": (plain, l2, l3, l4, l5)}


FUNNEL_PERIODS = [Period(date(2026, 3, 1), date(2026, 3, 31), zone) for zone in ZONES] + [
    Period(date(2026, 3, 5), date(2026, 3, 5), "Asia/Kathmandu")]


def _assert_funnel_same(cohort):
    for period in FUNNEL_PERIODS:
        for scope in ({}, {"team_id": cohort["team"].id}, {"rep_id": cohort["rep"].id}):
            criteria = Criteria(period, **scope)
            assert service.funnel(criteria) == service.funnel(criteria, from_history=True), (period, scope)


def test_funnel_from_the_leads_facts_equals_the_stage_history(cohort):
    plain, l2, l3, l4, l5 = cohort["leads"]
    furthest = dict(db.session.execute(select(Lead.id, Lead.furthest_stage).where(
        Lead.id.in_([lead.id for lead in cohort["leads"]]))).all())
    assert furthest == {plain.id: Stage.DISCOVER, l2.id: Stage.PROPOSE, l3.id: Stage.PROPOSE, l4.id: Stage.CLOSE,
                        l5.id: Stage.PROPOSE}
    _assert_funnel_same(cohort)
    march = service.funnel(Criteria(FUNNEL_PERIODS[0]))["current"]
    assert march["reached_close"] == 2  # l2 (won) and l4 (jumped to close)


def test_a_lead_whose_creation_time_changes_moves_its_stays_to_the_new_cohort(cohort):
    lead = cohort["leads"][2]
    lead.created_at = utc(2026, 2, 10)
    db.session.flush()
    _assert_funnel_same(cohort)
