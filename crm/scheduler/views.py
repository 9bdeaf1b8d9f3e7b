"""The admin page of the job process: /admin/jobs (runs, run now) and /admin/jobs/settings."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from crm import access
from crm.audit.service import record
from crm.db import utcnow
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.leads.recycle import recycle_after_days, save_recycle_days
from crm.scheduler.forms import JobSettingsForm, RunNowForm
from crm.scheduler.models import JobRun
from crm.scheduler.runner import get_job, run_job_apart
from crm.scheduler.service import job_overview
from crm.tasks.retention import retention_schedule, save_retention_schedule

bp = Blueprint("scheduler", __name__, url_prefix="/admin/jobs")


@bp.before_request
@login_required
def admins_only():
    if not access.can_run_jobs(current_user):
        abort(403)


@bp.get("")
def jobs():
    statuses, broken = job_overview(utcnow())
    return render_template("scheduler/jobs.html", statuses=statuses, broken=broken, run_form=RunNowForm())


@bp.post("/<name>/run")
def run_now(name: str):
    form = RunNowForm()
    if not form.validate_on_submit():
        abort(400)
    job = get_job(name)  # unknown: NotFound, 404
    # This request has only read so far. End its transaction: on SQLite it holds the write
    # lock the job's own session needs. The job commits (or records its failure) by itself;
    # this request only audits who asked.
    db.session.rollback()
    outcome = run_job_apart(current_app._get_current_object(), job.name)
    run = db.session.get(JobRun, outcome.run_id) if outcome.run_id else None
    if run is not None:
        record(current_user, "job.run_now", run, {"job": job.name, "items": outcome.items,
                                                  "failed": bool(outcome.error)})
    if outcome.error:
        flash(_("%(job)s failed: %(error)s", job=job.name, error=outcome.error.splitlines()[0]), "danger")
    else:
        flash(ngettext("%(job)s ran: %(num)d item.", "%(job)s ran: %(num)d items.", outcome.items, job=job.name), "success")
    return redirect(url_for("scheduler.jobs"))


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    form = JobSettingsForm()
    if not form.is_submitted():
        schedule = retention_schedule()
        form.retention_offsets.data = ", ".join(str(d) for d in schedule.offsets_days)
        form.retention_repeat_days.data = str(schedule.repeat_days)
        form.recycle_after_days.data = str(recycle_after_days())
    elif form.validate():
        errors = {}
        for save in (lambda: save_retention_schedule(form.retention_offsets.data, form.retention_repeat_days.data,
                                                     actor=current_user),
                     lambda: save_recycle_days(form.recycle_after_days.data, actor=current_user)):
            try:
                save()
            except ValidationFailed as exc:
                errors.update(exc.fields)
        if not errors:
            flash(_("Job settings saved."), "success")
            return redirect(url_for("scheduler.settings"))
        for name, message in errors.items():
            getattr(form, name).errors = [*getattr(form, name).errors, message]
    return render_template("scheduler/settings.html", form=form), 422 if form.errors else 200
