"""Activity rollups, every minute: rebuilds the rep-hours and rep-lead pairs whose touches changed.

The touches' trigger notes every change (docs/metrics.md, Rep activity); until this job has
rebuilt a noted hour or pair, the reports read it from the touches, so they are never stale.
"""

from __future__ import annotations

from datetime import datetime

from crm.reports.rollups import refresh_activity_rollups

NAME = "activity_rollups"
SCHEDULE = {"trigger": "cron", "minute": "*"}


def run(now: datetime) -> int:
    return refresh_activity_rollups()
