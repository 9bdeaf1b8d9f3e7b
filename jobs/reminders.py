"""Morning digest: at 08:00 in each user's time zone, their tasks for the day and what is overdue.

Every 15 minutes: one email per user per local day (outbox key digest:{user_id}:{date}).
"""

from __future__ import annotations

from datetime import datetime

from crm.tasks.digest import queue_due_digests

NAME = "reminders"
SCHEDULE = {"trigger": "cron", "minute": "*/15"}


def run(now: datetime) -> int:
    return queue_due_digests(now)
