"""CSAT surveys: every 10 minutes, a survey email after each connected call or replied chat.

At most one per contact per CSAT_SURVEY_EVERY_DAYS, never to a contact who opted out
(outbox key csat:{touch_id}); see crm/reports/surveys.py.
"""

from __future__ import annotations

from datetime import datetime

from crm.reports.surveys import send_due_surveys

NAME = "csat_surveys"
SCHEDULE = {"trigger": "cron", "minute": "*/10"}


def run(now: datetime) -> int:
    return send_due_surveys(now)
