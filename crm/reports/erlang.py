"""Erlang C staffing: how many agents answer enough calls quickly enough (docs/metrics.md).

Erlang B is computed by its recursion B(k) = A·B(k−1) / (k + A·B(k−1)), which stays
between 0 and 1 for any number of agents (no factorials, no powers of A), and Erlang C
from it. Searching for the agents needed walks N upwards once, carrying B along.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

MAX_AGENTS = 100_000
MAX_TRAFFIC = 50_000  # Erlangs; the search is linear in the agents


@dataclass(frozen=True)
class StaffingPlan:
    calls: float
    interval_minutes: int
    aht_seconds: float
    traffic_erlangs: float
    agents: int
    positions: int
    service_level: float | None
    asa_seconds: float | None
    occupancy: float | None
    probability_of_waiting: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def erlang_b(agents: int, traffic: float) -> float:
    """Blocking probability with ``agents`` servers offered ``traffic`` Erlangs."""
    b = 1.0
    for k in range(1, agents + 1):
        b = traffic * b / (k + traffic * b)
    return b


def erlang_c_from_b(agents: int, traffic: float, b: float) -> float:
    if agents <= traffic:
        return 1.0
    return agents * b / (agents - traffic * (1 - b))


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a call waits (all ``agents`` busy)."""
    return erlang_c_from_b(agents, traffic, erlang_b(agents, traffic))


def service_level(agents: int, traffic: float, aht_seconds: float, within_seconds: float, pw: float) -> float:
    if agents <= traffic:
        return 0.0
    return 1 - pw * math.exp(-(agents - traffic) * within_seconds / aht_seconds)


def plan(*, calls: float, interval_minutes: int, aht_seconds: float, answer_within_seconds: float,
         target_service_level: float, shrinkage: float = 0.0, max_occupancy: float | None = None) -> StaffingPlan:
    """The fewest agents reaching the service level (and the occupancy cap), and what they give."""
    traffic = calls * aht_seconds / (interval_minutes * 60)
    if calls <= 0 or traffic <= 0:
        return StaffingPlan(calls, interval_minutes, aht_seconds, 0.0, 0, 0, None, None, None, None)
    if traffic >= MAX_TRAFFIC:
        raise ValueError(f"traffic of {traffic:.0f} Erlangs is more than this planner handles ({MAX_TRAFFIC})")
    b, n = 1.0, 0
    while True:
        n += 1
        b = traffic * b / (n + traffic * b)
        if n <= traffic:
            continue
        pw = erlang_c_from_b(n, traffic, b)
        sl = service_level(n, traffic, aht_seconds, answer_within_seconds, pw)
        occupancy = traffic / n
        if (sl >= target_service_level and (max_occupancy is None or occupancy <= max_occupancy)) or n >= MAX_AGENTS:
            break
    positions = math.ceil(round(n / (1 - shrinkage), 9))
    return StaffingPlan(calls, interval_minutes, aht_seconds, traffic, n, positions, sl,
                        pw * aht_seconds / (n - traffic), occupancy, pw)
