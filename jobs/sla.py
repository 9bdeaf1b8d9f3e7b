"""Service-level checks, every 5 minutes: each one flags what is overdue, once, and tells the managers.

Keep this a list of service calls whose counts are summed; each check is idempotent on its own.
"""

from __future__ import annotations

from datetime import datetime

from crm.handoffs.service import flag_overdue_handoffs
from crm.queue.speed_to_lead import flag_speed_to_lead_breaches

NAME = "sla"
SCHEDULE = {"trigger": "cron", "minute": "*/5"}

CHECKS = (
    flag_speed_to_lead_breaches,  # new leads untouched past the team's speed-to-lead limit (working hours)
    flag_overdue_handoffs,  # pending hand-offs past the team's acceptance limit (working hours)
)


def run(now: datetime) -> int:
    return sum(check(now) for check in CHECKS)
