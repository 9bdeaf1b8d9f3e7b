"""Hand-off pages: the qualification form from a lead, the inbox, one hand-off, and its decisions."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from crm import access
from crm.api.pagination import page
from crm.auth.models import HandoffRule
from crm.contacts.views import apply_errors
from crm.db import utcnow
from crm.errors import DomainError, ValidationFailed
from crm.extensions import db
from crm.handoffs import service
from crm.handoffs.forms import HandoffForm, ReasonForm
from crm.handoffs.models import Handoff, HandoffStatus
from crm.i18n import zone_of

bp = Blueprint("handoffs", __name__)
bp.add_app_template_global(service.status_label, "handoff_status_label")
bp.add_app_template_global(service.criteria_rows, "handoff_criteria")

PAGE_SIZE = 25


@bp.app_template_global()
def handoff_meeting(handoff: Handoff) -> str:
    """The proposed meeting in the contact's zone and the signed-in user's."""
    return service.meeting_text(handoff, current_user.timezone if current_user.is_authenticated else None)


@bp.app_template_global()
def handoff_panel(lead) -> dict:
    """What the lead page's hand-off panel shows: the open hand-off, recent ones, and whether to offer Hand off."""
    recent = db.session.scalars(service.handoffs_for(current_user).where(Handoff.lead_id == lead.id)
                                .order_by(Handoff.id.desc()).limit(3)).all()
    open_one = next((h for h in recent if h.status in (HandoffStatus.AWAITING_APPROVAL, HandoffStatus.PENDING)), None)
    can_offer = (open_one is None and lead.is_open and lead.stage in service.HANDOFF_STAGES
                 and access.can_hand_off(current_user, lead))
    return {"recent": recent, "open": open_one, "can_hand_off": can_offer}


@bp.app_template_global()
def handoff_actions(handoff: Handoff) -> dict:
    """Which buttons the signed-in user gets on a hand-off card."""
    return {"decide": handoff.status == HandoffStatus.PENDING and access.can_decide_handoff(current_user, handoff),
            "approve": handoff.status == HandoffStatus.AWAITING_APPROVAL
            and access.can_approve_handoff(current_user, handoff)}


def _form(lead, formdata=None) -> HandoffForm:
    form = HandoffForm(formdata=formdata) if formdata is not None else HandoffForm()
    team = service.team_of(lead, current_user)
    rule = team.handoff_rule if team is not None else HandoffRule.MANUAL
    first = {HandoffRule.TERRITORY: _("By the team's rule: territory of the contact's country"),
             HandoffRule.ROUND_ROBIN: _("By the team's rule: next field rep in turn")}.get(rule, _("Choose a field rep"))
    form.to_user_id.choices = [SelectChoice("", first)] + [
        SelectChoice(str(u.id), f"{u.name}" + (f" ({u.territory})" if u.territory else ""))
        for u in service.active_field_reps(team)]
    return form


@bp.route("/leads/<int:lead_id>/handoff", methods=["GET", "POST"])
@login_required
def new(lead_id: int):
    lead = access.get_lead(current_user, lead_id, for_change=True)
    access.check_may_hand_off(current_user, lead)
    if request.method == "GET":
        service.check_can_be_handed_off(lead)  # refused with a flash on the lead page, before any typing
    form = _form(lead)
    if form.validate_on_submit():
        try:
            handoff = service.hand_off(
                lead, actor=current_user, qualification=service.Qualification(
                    budget=form.budget.data or "", budget_met=form.budget_met.data,
                    authority=form.authority.data or "", authority_met=form.authority_met.data,
                    need=form.need.data or "", need_met=form.need_met.data,
                    timeline=form.timeline.data or "", timeline_met=form.timeline_met.data,
                    notes=form.notes.data or ""),
                to_user_id=int(form.to_user_id.data) if (form.to_user_id.data or "").isdigit() else None,
                meeting_at=form.proposed_meeting_at.data)
        except DomainError as exc:
            db.session.rollback()
            lead = access.get_lead(current_user, lead_id, for_change=True)
            apply_errors(form, exc)
        else:
            if handoff.status == HandoffStatus.AWAITING_APPROVAL:
                flash(_("Handed off to %(name)s; %(n)d of 4 criteria met, so a manager approves it first.",
                        name=handoff.to_user.name, n=handoff.criteria_met), "warning")
            else:
                flash(_("Handed off to %(name)s.", name=handoff.to_user.name), "success")
            return redirect(url_for("leads.show", lead_id=lead.id))
    status = 422 if request.method == "POST" else 200
    local_now = utcnow().astimezone(zone_of(lead.contact.timezone)).strftime("%H:%M")
    return render_template("handoffs/form.html", lead=lead, contact=lead.contact, form=form,
                           contact_local_now=local_now), status


@bp.get("/handoffs")
@login_required
def index():
    tabs = ["pending", "accepted", "rejected"] + (["approval"] if access.is_manager(current_user) else [])
    tab = request.args.get("tab", "pending")
    if tab not in tabs:
        tab = "pending"
    stmt = service.handoffs_for(current_user, service.TABS[tab])
    try:
        rows, cursor = page(stmt, Handoff.id, cursor=request.args.get("cursor"), limit=PAGE_SIZE, session=db.session)
    except ValidationFailed as exc:
        flash(exc.message, "warning")
        rows, cursor = page(stmt, Handoff.id, cursor=None, limit=PAGE_SIZE, session=db.session)
    return render_template("handoffs/index.html", handoffs=rows, tab=tab, tabs=tabs, next_cursor=cursor,
                           reason_form=ReasonForm(formdata=None))


@bp.get("/handoffs/<int:handoff_id>")
@login_required
def show(handoff_id: int):
    handoff = access.get_handoff(current_user, handoff_id)
    return render_template("handoffs/show.html", handoff=handoff, reason_form=ReasonForm(formdata=None))


def _decide(handoff_id: int, action):
    """Run ``action(handoff, form)``; a domain error goes beside the reason, or back as a flash."""
    handoff = access.get_handoff(current_user, handoff_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        return render_template("handoffs/show.html", handoff=handoff, reason_form=form), 422
    try:
        message = action(handoff, form)
    except DomainError as exc:
        db.session.rollback()
        handoff = access.get_handoff(current_user, handoff_id)
        if "reason" in exc.fields:
            apply_errors(form, exc)
        else:
            flash(exc.message, "danger")
        return render_template("handoffs/show.html", handoff=handoff, reason_form=form), exc.status
    flash(message, "success")
    target = request.form.get("next") or ""
    if target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect(url_for("handoffs.show", handoff_id=handoff.id))


@bp.post("/handoffs/<int:handoff_id>/accept")
@login_required
def accept(handoff_id: int):
    def run(handoff, form):
        service.accept(handoff, actor=current_user)
        return _("Accepted: %(lead)s is yours, in propose.", lead=handoff.lead.title)
    return _decide(handoff_id, run)


@bp.post("/handoffs/<int:handoff_id>/reject")
@login_required
def reject(handoff_id: int):
    def run(handoff, form):
        service.send_back(handoff, actor=current_user, reason=form.reason.data)
        return _("Sent back to %(name)s.", name=handoff.from_user.name if handoff.from_user else "")
    return _decide(handoff_id, run)


@bp.post("/handoffs/<int:handoff_id>/approve")
@login_required
def approve(handoff_id: int):
    def run(handoff, form):
        service.approve(handoff, actor=current_user)
        return _("Approved: %(name)s has it now.", name=handoff.to_user.name if handoff.to_user else "")
    return _decide(handoff_id, run)


@bp.post("/handoffs/<int:handoff_id>/refuse")
@login_required
def refuse(handoff_id: int):
    def run(handoff, form):
        service.refuse(handoff, actor=current_user, reason=form.reason.data)
        return _("Refused; %(name)s has a task to follow up.", name=handoff.from_user.name if handoff.from_user else "")
    return _decide(handoff_id, run)
