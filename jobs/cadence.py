"""Cadence steps: every minute, due email steps become queued emails and enrollments move on.

Also ends the cadences of leads won, lost or handed off since. Call steps are left to
the queue. Idempotent: each email is keyed cadence:{enrollment_id}:{position} in the
outbox and each move is a compare-and-set on the enrollment's position, so a second
run in the same minute, or a rerun after a killed one (rolled back whole), does nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from crm.cadences.service import run_due_steps

NAME = "cadence"
SCHEDULE = {"trigger": "cron", "minute": "*"}


def run(now: datetime) -> int:
    return run_due_steps(now)
