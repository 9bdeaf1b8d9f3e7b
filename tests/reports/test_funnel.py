"""The funnel on a hand-built cohort: every count, conversion, median and reason known exactly."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from crm.leads.models import Stage
from crm.reports import service
from crm.reports.periods import Criteria, Period
from crm.reports.sql import REPORT_SETTINGS
from tests import factories
from tests.reports.builders import jump, lead_at, lose, move, utc, win

MARCH = Period(date(2026, 3, 1), date(2026, 3, 31), "Europe/Lisbon")


@pytest.fixture
def cohort(db_session):
    team = factories.team()
    rep = factories.user("rep", team=team)
    other = factories.user("rep", team=team)
    no_budget = factories.lost_reason("No budget")
    lead_at(rep, utc(2026, 3, 2, 12))  # stays in discover
    l2 = lead_at(rep, utc(2026, 3, 3, 12))
    move(l2, (Stage.NURTURE, utc(2026, 3, 5, 12)), (Stage.PROPOSE, utc(2026, 3, 9, 12)))
    win(l2, utc(2026, 3, 10, 12), "1000")
    l3 = lead_at(other, utc(2026, 3, 4, 12))
    move(l3, (Stage.NURTURE, utc(2026, 3, 5, 12)))
    lose(l3, utc(2026, 3, 7, 12), no_budget)
    l4 = lead_at(rep, utc(2026, 3, 5, 12))
    jump(l4, Stage.PROPOSE, utc(2026, 3, 8, 12))  # skipped nurture
    lose(l4, utc(2026, 3, 18, 12), no_budget)
    # Lisbon is UTC+1 from 29 March: 31 March 23:30 local is 22:30 UTC (in), 1 April 00:10 local is
    # 31 March 23:10 UTC (out); before the change, 1 March 00:05 local is 00:05 UTC (in).
    lead_at(rep, utc(2026, 3, 31, 22, 30))
    lead_at(rep, utc(2026, 3, 31, 23, 10))
    lead_at(rep, utc(2026, 3, 1, 0, 5))
    lead_at(rep, utc(2026, 2, 28, 23, 55))  # the previous period's only lead
    return {"team": team, "rep": rep, "other": other, "reason": no_budget}


def test_funnel_counts_conversions_and_skipped_stages(cohort):
    f = service.funnel(Criteria(MARCH))["current"]
    assert (f["created"], f["reached_nurture"], f["reached_propose"], f["reached_close"]) == (6, 3, 2, 1)
    assert (f["won"], f["lost"], f["open"]) == (1, 2, 3)
    assert f["won_value"] == Decimal("1000.00")
    assert f["conversion"] == {"discover_nurture": 0.5, "nurture_propose": 2 / 3, "propose_close": 0.5,
                               "close_won": 1.0}
    assert f["win_rate"] == pytest.approx(1 / 3)
    assert f["lost_reasons"] == [{"reason": cohort["reason"].label, "leads": 2}]


def test_funnel_median_days_in_each_stage_from_stage_changes(cohort):
    f = service.funnel(Criteria(MARCH))["current"]
    # discover: 2, 1, 3 days; nurture: 4, 2; propose: 1, 10; nobody has left close yet
    assert f["median_days"] == {"discover": 2.0, "nurture": 3.0, "propose": 5.5, "close": None}


def test_previous_period_is_the_same_length_before(cohort):
    result = service.funnel(Criteria(MARCH))
    assert MARCH.previous == Period(date(2026, 1, 29), date(2026, 2, 28), "Europe/Lisbon")
    p = result["previous"]
    assert (p["created"], p["reached_nurture"], p["won"], p["lost"]) == (1, 0, 0, 0)
    assert p["conversion"]["discover_nurture"] == 0.0
    assert p["conversion"]["nurture_propose"] is None
    assert p["win_rate"] is None


def test_period_edges_are_local_midnights(cohort):
    utc_march = Period(date(2026, 3, 1), date(2026, 3, 31), "UTC")
    # In UTC the 23:10 lead is in March, and the 00:05 one too; the 28 Feb 23:55 one is not.
    assert service.funnel(Criteria(utc_march))["current"]["created"] == 7
    tokyo = Period(date(2026, 3, 1), date(2026, 3, 1), "Asia/Tokyo")  # 28 Feb 15:00 – 1 Mar 15:00 UTC
    assert service.funnel(Criteria(tokyo))["current"]["created"] == 2


def test_funnel_filters_by_rep_and_team(cohort):
    by_other = service.funnel(Criteria(MARCH, rep_id=cohort["other"].id))["current"]
    assert (by_other["created"], by_other["lost"], by_other["median_days"]["nurture"]) == (1, 1, 2.0)
    elsewhere = factories.team()
    assert service.funnel(Criteria(MARCH, team_id=elsewhere.id))["current"]["created"] == 0


def test_empty_period_gives_dashes_not_errors(db_session):
    f = service.funnel(Criteria(MARCH))["current"]
    assert f["created"] == 0
    assert set(f["conversion"].values()) == {None}
    assert f["win_rate"] is None
    assert f["median_days"] == {"discover": None, "nurture": None, "propose": None, "close": None}


def test_reports_turn_jit_off_on_postgresql_only(db_session, dialect, count_queries):
    with count_queries() as counter:
        service.funnel(Criteria(MARCH))
    sets = [s for s in counter.statements if s.startswith("SET")]
    assert sets == (list(REPORT_SETTINGS) if dialect == "postgresql" else [])
