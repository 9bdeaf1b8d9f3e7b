"""Two cadence job runs at once (two schedulers, or `run-job` beside the scheduler) queue each email once.

On PostgreSQL the runs claim enrollments with FOR UPDATE SKIP LOCKED OF cadence_enrollments; on SQLite the
write lock serialises them. Committed data in a fresh database of each kind, two threads, two sessions.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from crm.email.models import OutboundEmail
from crm.extensions import db
from crm.leads.models import Stage, StageChange
from crm.scheduler.runner import run_job
from tests.cadences.helpers import call, default_cadence_in_place, new_lead
from tests.conftest import fresh_app_on

LEADS = 30
DUE = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_app(request, tmp_path):
    with fresh_app_on(request.param, tmp_path) as app:
        yield app


def test_two_runs_at_once_queue_each_email_once(fresh_app):
    with fresh_app.app_context():
        default_cadence_in_place()
        for _ in range(LEADS):
            lead = new_lead(datetime(2026, 3, 28, 10, 30, tzinfo=UTC), "Europe/Lisbon")
            for at in (datetime(2026, 3, 28, 10, 31, tzinfo=UTC), datetime(2026, 3, 29, 13, 5, tzinfo=UTC),
                       datetime(2026, 3, 31, 19, 45, tzinfo=UTC)):  # the email waits for 09:00 next morning
                call(lead, at)
        db.session.commit()

    runs, errors = [], []
    start = threading.Barrier(2)

    def runner():
        try:
            with fresh_app.app_context():
                start.wait()
                run = run_job("cadence", now=DUE)
                runs.append((run.error, run.items))
                db.session.remove()
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    with time_machine.travel(DUE, tick=False):
        threads = [threading.Thread(target=runner) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert not errors, errors
    assert [error for error, _items in runs] == ["", ""], runs
    assert sum(items for _error, items in runs) == LEADS
    with fresh_app.app_context():
        per_lead = Counter(db.session.scalars(select(OutboundEmail.lead_id)))
        assert len(per_lead) == LEADS and set(per_lead.values()) == {1}
        moves = Counter(db.session.scalars(select(StageChange.lead_id).where(StageChange.to_stage == Stage.NURTURE)))
        assert len(moves) == LEADS and set(moves.values()) == {1}
