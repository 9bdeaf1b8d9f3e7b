"""Every job in jobs/, run twice in the same minute over a living organisation, creates nothing the second time.

The jobs' own tests prove their rules; this one guards the promise they all share, so a
new job module that forgets its unique key fails here without anyone writing a test for it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from crm.db import Base
from crm.demo.seed import seed
from crm.scheduler.models import JobRun
from crm.scheduler.runner import discover_jobs, run_job

# Monday 07:05 UTC: the weekly reports are due for managers on UTC and Lisbon time, the digest
# for Lisbon in under an hour; Sunday 23:10 UTC is Monday 08:10 in Tokyo (digest due there).
MOMENTS = [datetime(2026, 11, 30, 7, 5, tzinfo=UTC), datetime(2026, 11, 29, 23, 10, tzinfo=UTC)]
LOGS = {"job_runs", "audit_events"}  # records of the runs themselves


def _counts(db_session) -> dict[str, int]:
    return {table.name: db_session.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables if table.name not in LOGS}


@pytest.mark.parametrize("moment", MOMENTS, ids=["monday-lisbon", "monday-tokyo"])
def test_every_job_run_twice_in_the_same_minute_creates_nothing_new(app, db_session, moment):
    with time_machine.travel(moment, tick=False):
        seed(120)
        db_session.commit()
        names = sorted(discover_jobs().jobs)
        assert {"send-outbox", "cadence", "reminders", "sla", "retention", "recycle", "weekly_reports",
                "csat_surveys"} <= set(names)
        did = {}
        for name in names:
            first = run_job(name)
            did[name] = first.items
            assert first.error == "", (name, first.error)
            before = _counts(db_session)
            again = run_job(name)
            assert (name, again.error, again.items) == (name, "", 0)
            assert _counts(db_session) == before, name
        assert sum(did.values()) > 0, did  # the organisation gave the jobs real work the first time
    assert db_session.scalar(select(func.count()).select_from(JobRun)) >= 2 * len(names)
