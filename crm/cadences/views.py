"""The admin's cadence editor (/admin/cadences) and where each lead stands (badge and list column)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from crm import access
from crm.cadences import service
from crm.cadences.forms import CadenceForm
from crm.cadences.models import Cadence, CadenceEnrollment, EnrollmentState
from crm.contacts.views import apply_errors
from crm.errors import DomainError, NotFound
from crm.extensions import db

bp = Blueprint("cadences", __name__, url_prefix="/admin/cadences")


@bp.app_context_processor
def cadence_helpers():
    """For every page: where leads stand in their cadence (one lead on its page, many in a list)."""

    def cadence_badge(lead):
        return service.step_badges([lead.id]).get(lead.id)

    return {"cadence_badge": cadence_badge, "cadence_badges": lambda leads: service.step_badges([lead.id for lead in leads])}


@bp.before_request
@login_required
def admins_only():
    access.require_admin(current_user)


def _get(cadence_id: int) -> Cadence:
    cadence = db.session.scalar(select(Cadence).where(Cadence.id == cadence_id).options(selectinload(Cadence.steps)))
    if cadence is None:
        raise NotFound(_("No such cadence."))
    return cadence


@bp.get("")
def index():
    cadences = db.session.scalars(select(Cadence).options(selectinload(Cadence.steps))
                                  .order_by(Cadence.is_default.desc(), Cadence.active.desc(), Cadence.name)).all()
    active_counts = dict(db.session.execute(
        select(CadenceEnrollment.cadence_id, func.count()).where(CadenceEnrollment.state == EnrollmentState.ACTIVE)
        .group_by(CadenceEnrollment.cadence_id)).all())
    warnings = {c.id: service.missing_templates(c) for c in cadences}
    alerts = {c.id: service.recent_template_alerts(c) for c in cadences}
    return render_template("cadences/index.html", cadences=cadences, active_counts=active_counts,
                           warnings=warnings, alerts=alerts)


def _form_for(cadence: Cadence | None) -> CadenceForm:
    form = CadenceForm()
    if not form.is_submitted():
        if cadence is not None:
            form.name.data = cadence.name
        rows = [{"position": s.position, "day_offset": s.day_offset, "window_start": s.window_start,
                 "window_end": s.window_end, "channel": s.channel.value, "template_key": s.template_key or "",
                 "only_if_unreached": s.only_if_unreached} for s in (cadence.steps if cadence else [])]
        next_position = max((r["position"] for r in rows), default=-1) + 1
        rows.append({"position": next_position, "day_offset": None, "window_start": None, "window_end": None,
                     "channel": "", "template_key": "", "only_if_unreached": False})
        while len(form.steps.entries):
            form.steps.pop_entry()
        for row in rows:
            form.steps.append_entry(row)
    return form


def _step_inputs(form: CadenceForm) -> tuple[list[service.StepInput], list[int]]:
    """The rows that are steps (not blank, not removed), and each one's row number in the form."""
    inputs, rows = [], []
    for i, entry in enumerate(form.steps.entries):
        data = entry.form
        if not data.channel.data or data.remove.data:
            continue
        inputs.append(service.StepInput(
            position=data.position.data, day_offset=data.day_offset.data, window_start=data.window_start.data,
            window_end=data.window_end.data, channel=data.channel.data, template_key=data.template_key.data,
            only_if_unreached=data.only_if_unreached.data))
        rows.append(i)
    return inputs, rows


def _place_errors(form: CadenceForm, exc: DomainError, rows: list[int]) -> None:
    placed = False
    for path, message in exc.fields.items():
        parts = path.split("-")
        if parts[0] == "steps" and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(rows):
            entry = form.steps.entries[rows[int(parts[1])]].form
            if parts[2] in entry._fields:
                entry[parts[2]].errors = [*entry[parts[2]].errors, message]
                placed = True
        elif path in form._fields:
            form[path].errors = [*form[path].errors, message]
            placed = True
    if not placed:
        flash(exc.message, "danger")


def _edit(cadence: Cadence | None):
    form = _form_for(cadence)
    if form.validate_on_submit():
        inputs, rows = _step_inputs(form)
        try:
            saved = service.save_cadence(cadence, name=form.name.data, steps=inputs, actor=current_user)
        except DomainError as exc:
            db.session.rollback()
            _place_errors(form, exc, rows)
        else:
            flash(_("Cadence %(name)s saved.", name=saved.name), "success")
            return redirect(url_for("cadences.edit", cadence_id=saved.id))
    elif form.is_submitted():
        apply_errors(form, DomainError(_("Check the fields marked in red.")))
    known = sorted(service.template_keys())
    status = 422 if form.is_submitted() else 200
    return render_template("cadences/edit.html", form=form, cadence=cadence, template_keys=known,
                           warnings=service.missing_templates(cadence) if cadence else []), status


@bp.route("/new", methods=["GET", "POST"])
def new():
    return _edit(None)


@bp.route("/<int:cadence_id>", methods=["GET", "POST"])
def edit(cadence_id: int):
    return _edit(_get(cadence_id))


@bp.post("/<int:cadence_id>/default")
def make_default(cadence_id: int):
    cadence = service.set_default(_get(cadence_id), actor=current_user)
    flash(_("New leads now follow %(name)s unless their campaign has its own cadence.", name=cadence.name), "success")
    return redirect(url_for("cadences.index"))


@bp.post("/<int:cadence_id>/active")
def toggle_active(cadence_id: int):
    cadence = _get(cadence_id)
    try:
        service.set_active(cadence, not cadence.active, actor=current_user)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
    else:
        flash(_("%(name)s is active again.", name=cadence.name) if cadence.active
              else _("%(name)s is deactivated: no new leads join it.", name=cadence.name), "success")
    return redirect(url_for("cadences.index"))
