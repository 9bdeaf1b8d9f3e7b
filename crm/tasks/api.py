"""/api/v1/tasks: list (filters, keyset pages), create, read, and PATCH to complete, reschedule or reassign."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import selectinload

from crm import access
from crm.api import current_api_user, endpoint
from crm.api.pagination import MAX_LIMIT, page
from crm.contacts.api import Ref
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.tasks import service
from crm.tasks.models import Task, TaskKind, TaskStatus


class TaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(..., min_length=1, max_length=200)
    due_at: datetime = Field(..., description="With a zone, e.g. 2026-11-23T10:00:00Z")
    lead_id: int | None = Field(None, ge=1, description="The lead; or give contact_id")
    contact_id: int | None = Field(None, ge=1)
    kind: TaskKind = TaskKind.FOLLOW_UP
    notes: str = Field("", max_length=5000)
    assignee_id: int | None = Field(None, ge=1, description="Defaults to you; managers may give it to their team")

    @model_validator(mode="after")
    def has_subject(self):
        if self.lead_id is None and self.contact_id is None:
            raise ValueError("give 'lead_id' or 'contact_id'")
        return self


class TaskPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["done"] | None = Field(None, description="done completes the task")
    due_at: datetime | None = Field(None, description="Reschedule (with a zone)")
    assignee_id: int | None = Field(None, ge=1, description="Reassign (managers, within their team)")

    @model_validator(mode="after")
    def something(self):
        if not self.model_fields_set:
            raise ValueError("give 'status', 'due_at' or 'assignee_id'")
        return self


class TaskOut(BaseModel):
    id: int
    kind: TaskKind
    title: str
    notes: str
    status: TaskStatus
    due_at: datetime
    overdue: bool
    completed_at: datetime | None
    lead_id: int | None
    contact: Ref | None
    assignee: Ref | None
    created_by_id: int | None
    origin: str
    created_at: datetime


class TaskList(BaseModel):
    items: list[TaskOut]
    next_cursor: str | None


class TaskQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: TaskStatus | None = Field(TaskStatus.OPEN, description="open (default), done or cancelled")
    assignee_id: int | None = Field(None, ge=1)
    lead_id: int | None = Field(None, ge=1)
    contact_id: int | None = Field(None, ge=1)
    due_before: datetime | None = None
    due_after: datetime | None = None
    overdue: bool = False
    cursor: str | None = Field(None, max_length=100)
    limit: int = Field(50, ge=1, le=MAX_LIMIT)


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValidationFailed(_("Times need a zone, e.g. 2026-11-23T10:00:00Z."), fields={field: _("Add a time zone.")})
    return value


def task_out(task: Task) -> TaskOut:
    return TaskOut(
        id=task.id, kind=task.kind, title=task.title, notes=task.notes, status=task.status, due_at=task.due_at,
        overdue=service.is_overdue(task), completed_at=task.completed_at, lead_id=task.lead_id,
        contact=Ref(id=task.contact.id, name=task.contact.full_name) if task.contact else None,
        assignee=Ref(id=task.assignee.id, name=task.assignee.name) if task.assignee else None,
        created_by_id=task.created_by_id, origin=task.origin, created_at=task.created_at)


@endpoint("/tasks", summary="List tasks you may see (open by default, newest first)", tags=["tasks"],
          query=TaskQuery, response=TaskList)
def list_tasks(query: TaskQuery):
    filters = service.TaskFilters(
        status=query.status, assignee_id=query.assignee_id, lead_id=query.lead_id, contact_id=query.contact_id,
        due_before=_aware(query.due_before, "due_before"), due_after=_aware(query.due_after, "due_after"),
        overdue=query.overdue)
    stmt = service.filtered_tasks(current_api_user(), filters).options(selectinload(Task.contact),
                                                                       selectinload(Task.assignee))
    rows, cursor = page(stmt, Task.id, cursor=query.cursor, limit=query.limit, session=db.session)
    return TaskList(items=[task_out(t) for t in rows], next_cursor=cursor)


@endpoint("/tasks", "POST", summary="Create a task for a lead or contact", tags=["tasks"], body=TaskIn,
          response=TaskOut, status=201, responses={403: "The assignee is not yours to give tasks to"})
def create_task(body: TaskIn):
    task = service.create_task(current_api_user(), title=body.title, due_at=_aware(body.due_at, "due_at"),
                               lead_id=body.lead_id, contact_id=body.contact_id, kind=body.kind, notes=body.notes,
                               assignee_id=body.assignee_id)
    return task_out(task)


@endpoint("/tasks/<int:task_id>", summary="One task", tags=["tasks"], response=TaskOut)
def get_task(task_id: int):
    return task_out(access.get_task(current_api_user(), task_id))


@endpoint("/tasks/<int:task_id>", "PATCH", summary="Complete, reschedule or reassign a task", tags=["tasks"],
          body=TaskPatch, response=TaskOut,
          responses={403: "Reassigning is for managers, within their team", 409: "The task is no longer open"})
def patch_task(task_id: int, body: TaskPatch):
    user = current_api_user()
    task = access.get_task(user, task_id)
    given = body.model_fields_set
    if "assignee_id" in given:
        service.reassign_task(task, actor=user, assignee_id=body.assignee_id)
    if "due_at" in given:
        service.reschedule_task(task, actor=user, due_at=_aware(body.due_at, "due_at"))
    if "status" in given:
        if body.status is None:
            raise ValidationFailed(_("A task is completed with status 'done'."), fields={"status": _("Only 'done'.")})
        service.complete_task(task, actor=user)
    return task_out(task)
