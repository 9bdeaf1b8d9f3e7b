"""Follow-up tasks: create, complete, reschedule, reassign; and the rep's private calendar secret.

Who may do what is asked of crm.access; these functions hold the rules of the task itself
(a subject, a title, a due time with a zone, only open tasks change) and flush, never commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from flask_babel import gettext as _
from sqlalchemy import select

from crm import access
from crm.audit.service import record
from crm.auth.models import User
from crm.contacts.models import Contact
from crm.db import utcnow
from crm.errors import Conflict, NotFound, ValidationFailed
from crm.extensions import db
from crm.labels import label
from crm.leads.models import Lead
from crm.tasks.models import Task, TaskKind, TaskStatus

MAX_TITLE = 200


def _check_due(due_at: datetime | None, field: str = "due_at") -> datetime:
    if due_at is None:
        raise ValidationFailed(_("Say when it is due."), fields={field: _("Required.")})
    if due_at.tzinfo is None:
        raise ValidationFailed(_("Times need a zone, e.g. 2026-11-23T10:00:00Z."), fields={field: _("Add a time zone.")})
    return due_at.astimezone(UTC)


def _check_kind(kind) -> TaskKind:
    try:
        return TaskKind(kind or TaskKind.FOLLOW_UP)
    except ValueError as exc:
        raise ValidationFailed(_("Unknown kind of task."),
                               fields={"kind": ", ".join(k.value for k in TaskKind)}) from exc


def _find_assignee(assignee_id: int | None) -> User | None:
    if assignee_id is None:
        return None
    assignee = db.session.get(User, assignee_id)
    if assignee is None:
        raise ValidationFailed(_("No such user."), fields={"assignee_id": _("Unknown user.")})
    return assignee


def subject_for(actor: User, *, lead_id: int | None, contact_id: int | None) -> tuple[Lead | None, Contact]:
    """The lead and contact a new task is for, as ``actor`` may see them (a lead brings its contact)."""
    if lead_id is None and contact_id is None:
        raise ValidationFailed(_("Say whom the task is for."), fields={"lead_id": _("Give a lead or a contact.")})
    lead = None
    if lead_id is not None:
        try:
            lead = access.get_lead(actor, lead_id)
        except NotFound as exc:
            raise NotFound(exc.message, fields={"lead_id": _("No such lead.")}) from exc
    if contact_id is not None:
        try:
            contact = access.get_contact(actor, contact_id)
        except NotFound as exc:
            raise NotFound(exc.message, fields={"contact_id": _("No such contact.")}) from exc
        if lead is not None and lead.contact_id != contact.id:
            raise ValidationFailed(_("That lead belongs to another contact."),
                                   fields={"contact_id": _("Not this lead's contact.")})
    else:
        contact = lead.contact
    return lead, contact


def create_task(actor: User, *, title: str, due_at: datetime | None, lead_id: int | None = None,
                contact_id: int | None = None, kind=None, notes: str = "", assignee_id: int | None = None) -> Task:
    """A new open task for a lead or contact the actor may see; it is the actor's unless they may give it away."""
    title = (title or "").strip()
    errors = {}
    if not title:
        errors["title"] = _("Required.")
    elif len(title) > MAX_TITLE:
        errors["title"] = _("At most %(n)d characters.", n=MAX_TITLE)
    if errors:
        raise ValidationFailed(_("The task is not valid."), fields=errors)
    due_at = _check_due(due_at)
    kind = _check_kind(kind)
    lead, contact = subject_for(actor, lead_id=lead_id, contact_id=contact_id)
    assignee = _find_assignee(assignee_id) or actor
    access.check_task_assignee(actor, assignee)
    task = Task(kind=kind, title=title, notes=(notes or "").strip(), lead_id=lead.id if lead else None,
                contact_id=contact.id, assignee_id=assignee.id, created_by_id=actor.id, due_at=due_at,
                status=TaskStatus.OPEN, origin="manual")
    db.session.add(task)
    db.session.flush()
    record(actor, "task.created", task, {"title": title, "due_at": due_at, "assignee_id": assignee.id,
                                         "lead_id": task.lead_id, "contact_id": task.contact_id})
    return task


def _open(task: Task) -> None:
    if task.status != TaskStatus.OPEN:
        raise Conflict(_("This task is already %(status)s.", status=label(task.status)),
                       fields={"status": _("Only open tasks change.")})


def complete_task(task: Task, *, actor: User, at: datetime | None = None) -> Task:
    _open(task)
    task.status = TaskStatus.DONE
    task.completed_at = at or utcnow()
    db.session.flush()
    record(actor, "task.completed", task)
    return task


def reschedule_task(task: Task, *, actor: User, due_at: datetime | None) -> Task:
    _open(task)
    before = task.due_at
    task.due_at = _check_due(due_at)
    db.session.flush()
    record(actor, "task.rescheduled", task, {"from": before, "to": task.due_at})
    return task


def reassign_task(task: Task, *, actor: User, assignee_id: int | None) -> Task:
    """Give an open task to someone else: managers within their team, admins anyone."""
    if not access.may_reassign_tasks(actor):
        from crm.errors import AccessDenied

        raise AccessDenied(_("Only managers reassign tasks."), fields={"assignee_id": _("Not yours to reassign.")})
    _open(task)
    assignee = _find_assignee(assignee_id)
    if assignee is None:
        raise ValidationFailed(_("Say who should do it."), fields={"assignee_id": _("Required.")})
    access.check_task_assignee(actor, assignee)
    before = task.assignee_id
    task.assignee_id = assignee.id
    db.session.flush()
    record(actor, "task.reassigned", task, {"from": before, "to": assignee.id})
    return task


@dataclass
class TaskFilters:
    status: TaskStatus | None = TaskStatus.OPEN
    assignee_id: int | None = None
    lead_id: int | None = None
    contact_id: int | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    overdue: bool = False


def filtered_tasks(user: User, filters: TaskFilters, now: datetime | None = None):
    """The tasks ``user`` may see that match ``filters`` (a select, unordered)."""
    stmt = access.visible_tasks(user)
    if filters.status is not None:
        stmt = stmt.where(Task.status == filters.status)
    for column, value in ((Task.assignee_id, filters.assignee_id), (Task.lead_id, filters.lead_id),
                          (Task.contact_id, filters.contact_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    if filters.due_before is not None:
        stmt = stmt.where(Task.due_at < filters.due_before)
    if filters.due_after is not None:
        stmt = stmt.where(Task.due_at >= filters.due_after)
    if filters.overdue:
        stmt = stmt.where(Task.status == TaskStatus.OPEN, Task.due_at < (now or utcnow()))
    return stmt


def is_overdue(task: Task, now: datetime | None = None) -> bool:
    return task.status == TaskStatus.OPEN and task.due_at < (now or utcnow())


# ---------------------------------------------------------------- the calendar secret

def regenerate_calendar_secret(user: User) -> str:
    """A new secret for the user's feed; the old address stops working at once."""
    user.calendar_secret = secrets.token_urlsafe(24)
    db.session.flush()
    record(user, "user.calendar_secret_regenerated", user)
    return user.calendar_secret


def calendar_secret(user: User) -> str:
    """The user's secret, made on first use (users created before it existed have none)."""
    return user.calendar_secret or regenerate_calendar_secret(user)


def user_by_calendar_secret(secret: str) -> User | None:
    if not secret or len(secret) > 64:
        return None
    user = db.session.scalar(select(User).where(User.calendar_secret == secret))
    if user is None or not user.active:
        return None
    return user
