"""Task pages: /tasks (mine, or my team's), new task (also from the lead page), complete, reschedule,
reassign; the private calendar feed /calendar/<secret>.ics and its secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from crm import access
from crm.contacts.views import apply_errors
from crm.db import utcnow
from crm.errors import DomainError
from crm.extensions import db, limiter
from crm.i18n import zone_of
from crm.tasks import service
from crm.tasks.calendar import task_feed
from crm.tasks.forms import ReassignForm, RescheduleForm, TaskForm
from crm.tasks.models import Task, TaskStatus

bp = Blueprint("tasks", __name__)

PAGE_ROWS = 200


def to_utc(local: datetime | None) -> datetime | None:
    """A time the user typed (their own zone, as a naive value) in UTC."""
    if local is None:
        return None
    return local.replace(tzinfo=zone_of(current_user.timezone)).astimezone(UTC)


def to_local_input(moment: datetime) -> str:
    return moment.astimezone(zone_of(current_user.timezone)).strftime("%Y-%m-%dT%H:%M")


def _assignee_choices() -> list[SelectChoice]:
    return [SelectChoice(u.id, u.name) for u in db.session.scalars(access.task_assignees(current_user))]


def new_task_form(lead=None, formdata=None) -> TaskForm:
    """A blank new-task form (due tomorrow at 10:00, the user's time), for a lead when given."""
    form = TaskForm(formdata=formdata) if formdata is not None else TaskForm()
    form.assignee_id.choices = _assignee_choices()
    if formdata is None:
        tomorrow = (utcnow().astimezone(zone_of(current_user.timezone)) + timedelta(days=1)).replace(
            hour=10, minute=0, second=0, microsecond=0, tzinfo=None)
        form.due_at.data = tomorrow
        form.assignee_id.data = current_user.id
        if lead is not None:
            form.lead_id.data = lead.id
    return form


@bp.app_context_processor
def task_helpers():
    return {"new_task_form": new_task_form, "task_is_overdue": service.is_overdue,
            "lead_open_tasks": _lead_open_tasks}


def _lead_open_tasks(lead) -> list[Task]:
    return list(db.session.scalars(access.visible_tasks(current_user).where(
        Task.lead_id == lead.id, Task.status == TaskStatus.OPEN).order_by(Task.due_at).limit(20)))


def _list_context(form: TaskForm | None = None) -> dict:
    status = request.args.get("status", "open")
    filters = service.TaskFilters(status=TaskStatus.DONE if status == "done" else TaskStatus.OPEN)
    if request.args.get("mine") == "1":
        filters.assignee_id = current_user.id
    stmt = service.filtered_tasks(current_user, filters).options(
        selectinload(Task.lead), selectinload(Task.contact), selectinload(Task.assignee))
    order = (Task.due_at.asc(), Task.id) if filters.status == TaskStatus.OPEN else (Task.completed_at.desc(), Task.id)
    rows = db.session.scalars(stmt.order_by(*order).limit(PAGE_ROWS + 1)).all()
    secret = service.calendar_secret(current_user)
    return {
        "tasks": rows[:PAGE_ROWS], "more": len(rows) > PAGE_ROWS, "status": filters.status.value,
        "mine": request.args.get("mine") == "1", "form": form or new_task_form(), "now": utcnow(),
        "can_reassign": access.may_reassign_tasks(current_user), "assignees": _assignee_choices(),
        "to_local_input": to_local_input,
        "feed_url": f"{current_app.config['PUBLIC_URL'].rstrip('/')}{url_for('tasks.calendar_feed', secret=secret)}",
    }


@bp.get("/tasks")
@login_required
def index():
    return render_template("tasks/index.html", **_list_context())


@bp.post("/tasks")
@login_required
def create():
    form = new_task_form(formdata=request.form)
    back_to_lead = request.form.get("from") == "lead"
    if form.validate_on_submit():
        try:
            task = service.create_task(current_user, title=form.title.data, due_at=to_utc(form.due_at.data),
                                       lead_id=form.lead_id.data, contact_id=form.contact_id.data, kind=form.kind.data,
                                       notes=form.notes.data or "", assignee_id=form.assignee_id.data)
        except DomainError as exc:
            db.session.rollback()
            if exc.status == 404 and not exc.fields:
                raise
            apply_errors(form, exc)
        else:
            flash(_("Task added: %(title)s.", title=task.title), "success")
            if back_to_lead and task.lead_id:
                return redirect(url_for("leads.show", lead_id=task.lead_id))
            return redirect(url_for("tasks.index"))
    if back_to_lead and form.lead_id.data:
        from crm.leads.views import workspace_context

        lead = access.get_lead(current_user, form.lead_id.data)
        return render_template("leads/show.html", **workspace_context(lead), task_form=form), 422
    return render_template("tasks/index.html", **_list_context(form)), 422


def _back(task: Task):
    if request.form.get("from") == "lead" and task.lead_id:
        return redirect(url_for("leads.show", lead_id=task.lead_id))
    return redirect(url_for("tasks.index"))


@bp.post("/tasks/<int:task_id>/complete")
@login_required
def complete(task_id: int):
    task = access.get_task(current_user, task_id)
    service.complete_task(task, actor=current_user)
    flash(_("Done: %(title)s.", title=task.title), "success")
    return _back(task)


@bp.post("/tasks/<int:task_id>/reschedule")
@login_required
def reschedule(task_id: int):
    task = access.get_task(current_user, task_id)
    form = RescheduleForm()
    if not form.validate_on_submit():
        flash(_("Give the new due time as a date and a time."), "danger")
        return _back(task)
    service.reschedule_task(task, actor=current_user, due_at=to_utc(form.due_at.data))
    flash(_("Rescheduled: %(title)s.", title=task.title), "success")
    return _back(task)


@bp.post("/tasks/<int:task_id>/reassign")
@login_required
def reassign(task_id: int):
    task = access.get_task(current_user, task_id)
    form = ReassignForm()
    form.assignee_id.choices = _assignee_choices()
    if not form.validate_on_submit():
        flash(_("Choose who should do it."), "danger")
        return _back(task)
    service.reassign_task(task, actor=current_user, assignee_id=form.assignee_id.data)
    flash(_("Given to %(name)s: %(title)s.", name=task.assignee.name, title=task.title), "success")
    return _back(task)


@bp.post("/tasks/calendar-secret")
@login_required
def regenerate_secret():
    service.regenerate_calendar_secret(current_user)
    flash(_("Your calendar has a new address; the old one no longer works."), "success")
    return redirect(url_for("tasks.index"))


@bp.get("/calendar/<secret>.ics")
@limiter.limit("120 per minute")
def calendar_feed(secret: str):
    """The feed answers to its secret alone (calendar apps cannot sign in); a wrong one is a 404."""
    user = service.user_by_calendar_secret(secret)
    if user is None:
        abort(404)
    response = Response(task_feed(user), mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'inline; filename="touchline-tasks.ics"'
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


