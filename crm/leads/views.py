"""Lead pages: the lead workspace and its stage controls."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from crm import access
from crm.contacts.timeline import contact_timeline
from crm.db import utcnow
from crm.errors import StageError
from crm.extensions import db
from crm.leads import service
from crm.leads.forms import StageForm
from crm.leads.models import LostReason

bp = Blueprint("leads", __name__)


def _stage_form(lead, formdata=None) -> StageForm:
    form = StageForm(formdata=formdata) if formdata is not None else StageForm()
    form.stage.choices = [SelectChoice(s.value, s.value) for s in service.allowed_stages(lead)]
    form.reason.choices = [SelectChoice("", _("Choose a reason"))] + [
        SelectChoice(str(r.id), r.label) for r in db.session.scalars(
            select(LostReason).where(LostReason.active.is_(True)).order_by(LostReason.label))
    ]
    return form


def workspace_context(lead, stage_form=None) -> dict:
    """What the lead page shows; features add their panels to the template, not here."""
    contact = lead.contact
    local_now = utcnow().astimezone(ZoneInfo(contact.timezone))
    return {
        "lead": lead,
        "contact": contact,
        "contact_local_time": local_now,
        "timeline": contact_timeline(contact),
        "stage_form": stage_form or _stage_form(lead),
        "can_change": access.can_change_lead(current_user, lead),
    }


@bp.get("/leads/<int:lead_id>")
@login_required
def show(lead_id: int):
    lead = access.get_lead(current_user, lead_id)
    return render_template("leads/show.html", **workspace_context(lead))


@bp.post("/leads/<int:lead_id>/stage")
@login_required
def change_stage(lead_id: int):
    lead = access.get_lead(current_user, lead_id, for_change=True)
    form = _stage_form(lead, formdata=None)
    if not form.validate_on_submit():
        return render_template("leads/show.html", **workspace_context(lead, form)), 422
    try:
        if form.action.data == "won":
            service.mark_won(lead, actor=current_user, value=form.value.data, note=form.note.data or "")
        elif form.action.data == "lost":
            service.mark_lost(lead, actor=current_user, reason=form.reason.data, note=form.note.data or "")
        elif form.action.data == "reopen":
            service.reopen(lead, actor=current_user, note=form.note.data or "")
        else:
            service.change_stage(lead, form.stage.data, actor=current_user, note=form.note.data or "")
    except StageError as exc:
        db.session.rollback()
        lead = access.get_lead(current_user, lead_id, for_change=True)
        form = _stage_form(lead, formdata=None)
        target = {"value": form.value, "reason": form.reason}.get(next(iter(exc.fields), ""), form.stage)
        target.errors = [*target.errors, exc.message] if isinstance(target.errors, list) else [exc.message]
        return render_template("leads/show.html", **workspace_context(lead, form)), 422
    flash(_("Lead updated: %(stage)s, %(status)s.", stage=lead.stage.value, status=lead.status.value), "success")
    return redirect(url_for("leads.show", lead_id=lead.id))
