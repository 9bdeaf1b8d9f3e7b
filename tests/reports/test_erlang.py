"""Erlang C against textbook values, and its stability for hundreds of agents."""

from __future__ import annotations

import math

import pytest

from crm.reports import erlang


@pytest.mark.parametrize(("agents", "expected"), [(11, 0.6821), (12, 0.4494), (13, 0.2853), (14, 0.1741)])
def test_erlang_c_matches_the_textbook_table_for_ten_erlangs(agents, expected):
    assert erlang.erlang_c(agents, 10.0) == pytest.approx(expected, abs=1e-4)


def test_textbook_example_100_calls_in_30_minutes_at_180_seconds_80_in_20():
    # The standard worked example: A = 10 Erlangs; 13 agents give 79.6 %, 14 give 88.4 %.
    p = erlang.plan(calls=100, interval_minutes=30, aht_seconds=180, answer_within_seconds=20,
                    target_service_level=0.8, shrinkage=0.3)
    assert p.traffic_erlangs == 10.0
    assert p.agents == 14
    assert p.service_level == pytest.approx(0.8884, abs=1e-4)
    assert p.probability_of_waiting == pytest.approx(0.1741, abs=1e-4)
    assert p.asa_seconds == pytest.approx(7.83, abs=0.01)
    assert p.occupancy == pytest.approx(10 / 14)
    assert p.positions == 20  # 14 / (1 − 0.3)


def test_occupancy_cap_adds_agents():
    capped = erlang.plan(calls=100, interval_minutes=30, aht_seconds=180, answer_within_seconds=20,
                         target_service_level=0.8, max_occupancy=0.65)
    assert capped.agents == 16  # 10/15 = 0.667 is over the cap, 10/16 = 0.625 is not
    assert capped.occupancy <= 0.65


def test_hundreds_of_agents_without_overflow():
    p = erlang.plan(calls=6000, interval_minutes=30, aht_seconds=300, answer_within_seconds=20,
                    target_service_level=0.9)
    assert p.traffic_erlangs == 1000.0
    assert 1000 < p.agents < 1060
    assert 0.9 <= p.service_level < 1
    assert math.isfinite(p.asa_seconds)
    below = erlang.erlang_c(p.agents - 1, 1000.0)
    sl_below = erlang.service_level(p.agents - 1, 1000.0, 300, 20, below)
    assert sl_below < 0.9  # and one fewer would not do


def test_no_calls_needs_no_one():
    p = erlang.plan(calls=0, interval_minutes=30, aht_seconds=180, answer_within_seconds=20, target_service_level=0.8)
    assert (p.agents, p.positions, p.service_level, p.asa_seconds) == (0, 0, None, None)


def test_erlang_b_recursion_equals_the_closed_form_for_small_numbers():
    a, n = 4.2, 7
    closed = (a ** n / math.factorial(n)) / sum(a ** k / math.factorial(k) for k in range(n + 1))
    assert erlang.erlang_b(n, a) == pytest.approx(closed)
