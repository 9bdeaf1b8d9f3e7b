"""Settings admins change at run time, one JSON value per key in the settings table.

Each feature validates its own values (crm/tasks/retention.py, crm/leads/recycle.py)
and stores them here; every change is audited with the old and new value.
"""

from __future__ import annotations

from crm.audit.service import record
from crm.db import utcnow
from crm.extensions import db
from crm.scheduler.models import Setting


def read_setting(key: str, default=None):
    """The stored value for ``key``, or ``default`` when it was never set."""
    row = db.session.get(Setting, key)
    return default if row is None else row.value


def write_setting(key: str, value, *, actor) -> Setting:
    """Store ``value`` under ``key`` (already validated by its feature) and audit the change."""
    row = db.session.get(Setting, key)
    before = None if row is None else row.value
    if row is None:
        row = Setting(key=key, value=value)
        db.session.add(row)
    else:
        row.value = value
        row.updated_at = utcnow()
    db.session.flush()
    record(actor, "setting.changed", row, {"key": key, "from": before, "to": value})
    return row
