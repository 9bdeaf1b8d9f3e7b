"""Weekly report: Monday 07:00 in each manager's time zone, last week's funnel and team KPIs by email.

Every 15 minutes (zones with half- and quarter-hour offsets too); one email per manager
per week (outbox key weekly-report:{manager_id}:{monday}).
"""

from __future__ import annotations

from datetime import datetime

from crm.reports.weekly import queue_weekly_reports

NAME = "weekly_reports"
SCHEDULE = {"trigger": "cron", "minute": "*/15"}


def run(now: datetime) -> int:
    return queue_weekly_reports(now)
