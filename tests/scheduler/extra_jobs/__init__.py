"""Fast jobs for the scheduler's tests, added with SCHEDULER_EXTRA_JOBS=tests.scheduler.extra_jobs."""

from __future__ import annotations

import os

from crm.audit.models import AuditEvent
from crm.extensions import db


def mark(action: str, now) -> None:
    """Leave a row saying which process ran the job, and when it was asked to."""
    db.session.add(AuditEvent(action=action, entity_type="test_job", entity_id=None,
                              changes={"pid": os.getpid(), "now": now.isoformat()}))
    db.session.flush()
