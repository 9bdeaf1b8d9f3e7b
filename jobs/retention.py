"""Retention callbacks for customers: 30, 90, 180 days after the win, then every 180 (admin setting).

Hourly: creates the callbacks due within the next day for the owning rep, keyed
retention:{lead_id}:{n}, and cancels open ones to customers now on do-not-call.
"""

from __future__ import annotations

from datetime import datetime

from crm.tasks.retention import schedule_retention_callbacks

NAME = "retention"
SCHEDULE = {"trigger": "cron", "minute": 5}


def run(now: datetime) -> int:
    return schedule_retention_callbacks(now)
