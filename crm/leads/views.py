"""Lead pages: the lead workspace and its stage controls."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from crm import access
from crm.api.pagination import page
from crm.auth.models import Role, User
from crm.contacts.service import find_or_create_contact
from crm.contacts.timeline import contact_timeline
from crm.contacts.views import apply_errors
from crm.db import collated, utcnow
from crm.errors import DomainError, StageError, ValidationFailed
from crm.extensions import db
from crm.labels import label
from crm.leads import export, service
from crm.leads.filters import LeadFilters, filtered_leads
from crm.leads.forms import LeadForm, StageForm
from crm.leads.models import Campaign, Lead, LeadStatus, LostReason, Stage

bp = Blueprint("leads", __name__)


def _stage_form(lead, formdata=None) -> StageForm:
    form = StageForm(formdata=formdata) if formdata is not None else StageForm()
    form.stage.choices = [SelectChoice(s.value, label(s)) for s in service.allowed_stages(lead)]
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
    flash(_("Lead updated: %(stage)s, %(status)s.", stage=label(lead.stage), status=label(lead.status)), "success")
    return redirect(url_for("leads.show", lead_id=lead.id))


def _filters_from_args() -> tuple[LeadFilters, dict[str, str]]:
    """The list's filters from the query string; bad values are dropped with a message each."""
    raw = {k: v for k, v in request.args.items() if v not in ("", None) and k in LeadFilters.model_fields}
    errors: dict[str, str] = {}
    while True:
        try:
            return LeadFilters.model_validate(raw), errors
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                name = str(err["loc"][0])
                errors[name] = err["msg"]
                raw.pop(name, None)


@bp.get("/leads")
@login_required
def index():
    filters, errors = _filters_from_args()
    stmt = filtered_leads(current_user, filters).options(
        selectinload(Lead.contact), selectinload(Lead.owner), selectinload(Lead.source), selectinload(Lead.campaign))
    try:
        rows, cursor = page(stmt, Lead.id, cursor=request.args.get("cursor"), limit=50, session=db.session)
    except ValidationFailed as exc:
        errors["cursor"] = exc.message
        rows, cursor = page(stmt, Lead.id, cursor=None, limit=50, session=db.session)
    owners = db.session.scalars(select(User).where(User.role == Role.REP, User.active.is_(True),
                                                   User.team_id == current_user.team_id)
                                .order_by(collated(User.name, db.session), User.id)).all() \
        if access.is_manager(current_user) else []
    args = {k: v for k, v in request.args.items() if k != "cursor"}
    return render_template("leads/index.html", leads=rows, next_cursor=cursor, filters=filters, errors=errors,
                           args=args, owners=owners, stages=[s.value for s in Stage],
                           statuses=[s.value for s in LeadStatus]), 200


def _campaign_choices() -> list[SelectChoice]:
    return [SelectChoice("", _("No campaign"))] + [
        SelectChoice(str(c.id), c.name) for c in db.session.scalars(
            select(Campaign).where(Campaign.active.is_(True)).order_by(Campaign.name))]


@bp.route("/leads/new", methods=["GET", "POST"])
@login_required
def new():
    form = LeadForm()
    form.campaign.choices = _campaign_choices()
    contact_id = request.values.get("contact_id", type=int)
    contact = access.get_contact(current_user, contact_id) if contact_id else None
    if form.validate_on_submit():
        try:
            if contact is None:
                if not (form.first_name.data or "").strip():
                    raise ValidationFailed(_("Who is the lead? Give at least a first name."),
                                           fields={"first_name": _("A first name is required.")})
                match = find_or_create_contact(actor=current_user, team_id=current_user.team_id,
                                               account=form.account.data or None, first_name=form.first_name.data,
                                               last_name=form.last_name.data or "", email=form.email.data or None,
                                               phone=form.phone.data or None)
                contact = match.contact
                if not match.created:
                    flash(_("%(name)s already existed (same %(on)s); the lead is added to that contact.",
                            name=contact.full_name, on=match.matched_on), "info")
            lead = service.create_lead(contact, actor=current_user, source=form.source.data or None,
                                       campaign=int(form.campaign.data) if form.campaign.data else None,
                                       value=form.value.data, currency=form.currency.data or None,
                                       title=form.title.data or "", score=form.score.data or 0)
        except DomainError as exc:
            db.session.rollback()
            contact = access.get_contact(current_user, contact_id) if contact_id else None
            apply_errors(form, exc)
        else:
            flash(_("Lead created and given to %(owner)s.", owner=lead.owner.name if lead.owner else _("the pool")),
                  "success")
            return redirect(url_for("leads.show", lead_id=lead.id))
    return render_template("leads/form.html", form=form, contact=contact, lead=None), 422 if form.errors else 200


@bp.route("/leads/<int:lead_id>/edit", methods=["GET", "POST"])
@login_required
def edit(lead_id: int):
    lead = access.get_lead(current_user, lead_id, for_change=True)
    form = LeadForm(obj=lead)
    form.campaign.choices = _campaign_choices()
    if request.method == "GET":
        form.source.data = lead.source.name if lead.source else ""
        form.campaign.data = str(lead.campaign_id or "")
    if form.validate_on_submit():
        try:
            service.update_lead(lead, actor=current_user, title=form.title.data or lead.title, value=form.value.data,
                                currency=form.currency.data or lead.currency, score=form.score.data,
                                source=form.source.data or None,
                                campaign=int(form.campaign.data) if form.campaign.data else None)
        except DomainError as exc:
            db.session.rollback()
            lead = access.get_lead(current_user, lead_id, for_change=True)
            apply_errors(form, exc)
        else:
            flash(_("Lead saved."), "success")
            return redirect(url_for("leads.show", lead_id=lead.id))
    return render_template("leads/form.html", form=form, contact=lead.contact, lead=lead), 422 if form.errors else 200


@bp.get("/export/<any(leads, contacts, touches):what>.csv")
@login_required
def export_csv(what: str):
    filters, _errors = _filters_from_args()
    if what == "contacts":
        body = export.contacts_csv(current_user, request.args.get("q"))
    elif what == "touches":
        body = export.touches_csv(current_user, filters)
    else:
        body = export.leads_csv(current_user, filters)
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(stream_with_context(body), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="touchline-{what}-{stamp}.csv"'})
