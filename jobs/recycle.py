"""Recycling: open leads with no touch for N days (default 30) go back to their team's pool.

Hourly: each recycled lead gets an audit event and a note on its timeline.
"""

from __future__ import annotations

from datetime import datetime

from crm.leads.recycle import recycle_untouched_leads

NAME = "recycle"
SCHEDULE = {"trigger": "cron", "minute": 35}


def run(now: datetime) -> int:
    return recycle_untouched_leads(now)
