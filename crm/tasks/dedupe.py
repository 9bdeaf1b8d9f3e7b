"""Adding a task a job makes at most once, by its dedupe_key (unique in the database)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm.extensions import db
from crm.tasks.models import Task


def existing_keys(keys: list[str], chunk: int = 500) -> set[str]:
    """Which of ``keys`` are already taken, in a few queries however many there are."""
    found: set[str] = set()
    for i in range(0, len(keys), chunk):
        found.update(db.session.scalars(select(Task.dedupe_key).where(Task.dedupe_key.in_(keys[i:i + chunk]))))
    return found


def add_once(task: Task) -> bool:
    """Add ``task`` unless a task with its dedupe_key exists; False when another run got there first."""
    if not task.dedupe_key:
        raise ValueError("a job's task needs a dedupe_key")
    try:
        with db.session.begin_nested():  # a concurrent run with the same key loses cleanly
            db.session.add(task)
            db.session.flush()
    except IntegrityError:
        if db.session.scalar(select(Task.id).where(Task.dedupe_key == task.dedupe_key)) is None:
            raise
        return False
    return True
