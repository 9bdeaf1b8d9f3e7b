"""Email pages: templates and suppressions (admins), the outbox, composing on a lead, unsubscribing."""

from __future__ import annotations

import secrets

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import select
from wtforms import SelectChoice

from crm import access
from crm.db import utcnow
from crm.email import inbound
from crm.email import service as email_service
from crm.email.forms import ComposeForm, TemplateForm
from crm.email.models import EmailStatus, EmailTemplate, OutboundEmail, Suppression
from crm.email.outbox import EmailBlocked, is_suppressed, queue_email
from crm.email.rendering import SAMPLE_CONTEXT, render
from crm.email.sanitise import sanitise_html
from crm.errors import Conflict, DomainError, NotFound, ValidationFailed
from crm.extensions import csrf, db
from crm.integrations.models import InboundEvent
from crm.touches.models import Channel, Direction, Touch

bp = Blueprint("email", __name__)
bp.add_app_template_global(email_service.status_label, "status_label")
bp.add_app_template_global(email_service.can_send_again, "can_send_again")

PAGE_SIZE = 100


def _require_email_admin() -> None:
    if not access.can_manage_email(current_user):
        abort(403)


# --- templates (admins) --------------------------------------------------------------------------

@bp.get("/admin/email-templates")
@login_required
def templates():
    _require_email_admin()
    rows = db.session.scalars(select(EmailTemplate).order_by(EmailTemplate.key, EmailTemplate.locale)).all()
    return render_template("email/templates.html", templates=rows)


@bp.route("/admin/email-templates/new", methods=["GET", "POST"])
@login_required
def new_template():
    _require_email_admin()
    return _template_page(None)


@bp.route("/admin/email-templates/<int:template_id>", methods=["GET", "POST"])
@login_required
def edit_template(template_id: int):
    _require_email_admin()
    template = db.session.get(EmailTemplate, template_id)
    if template is None:
        raise NotFound(_("No such template."))
    return _template_page(template)


def _template_page(template: EmailTemplate | None):
    form = TemplateForm(obj=template) if request.method == "GET" else TemplateForm()
    if request.method == "GET" and template is not None:
        form.kind.data = template.kind.value
    preview = None
    if request.method == "POST" and form.validate_on_submit():
        try:
            if request.form.get("action") == "preview":
                preview = _preview(form.subject.data, form.body.data)
            else:
                saved = email_service.save_template(
                    template, key=form.key.data, locale=form.locale.data, name=form.name.data, kind=form.kind.data,
                    subject=form.subject.data, body=form.body.data, actor=current_user)
                flash(_("Template %(key)s (%(locale)s) saved.", key=saved.key, locale=saved.locale), "success")
                return redirect(url_for("email.edit_template", template_id=saved.id))
        except DomainError as exc:
            db.session.rollback()
            _errors_beside_fields(form, exc)
    status = 422 if form.errors else 200
    return render_template("email/template_edit.html", form=form, template=template, preview=preview,
                           sample=SAMPLE_CONTEXT), status


def _preview(subject: str, body: str) -> dict:
    context = dict(SAMPLE_CONTEXT)
    subject_text, text, html = render(subject, body, context)
    return {"subject": subject_text, "text": text, "html": Markup(html)}  # noqa: S704 (render() escaped the body)


def _errors_beside_fields(form, exc: DomainError) -> None:
    placed = False
    for name, message in exc.fields.items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*list(field.errors), message]
            placed = True
    if not placed:
        form.form_errors.append(exc.message)


# --- the suppression list (admins) ---------------------------------------------------------------

@bp.get("/admin/suppressions")
@login_required
def suppressions():
    _require_email_admin()
    query = (request.args.get("q") or "").strip().lower()
    active = select(Suppression).where(Suppression.lifted_at.is_(None))
    lifted = select(Suppression).where(Suppression.lifted_at.is_not(None))
    if query:
        active = active.where(Suppression.email.contains(query, autoescape=True))
        lifted = lifted.where(Suppression.email.contains(query, autoescape=True))
    return render_template(
        "email/suppressions.html", q=query,
        active=db.session.scalars(active.order_by(Suppression.created_at.desc()).limit(PAGE_SIZE * 5)).all(),
        lifted=db.session.scalars(lifted.order_by(Suppression.lifted_at.desc()).limit(20)).all())


@bp.post("/admin/suppressions/<int:suppression_id>/lift")
@login_required
def lift_suppression(suppression_id: int):
    _require_email_admin()
    row = db.session.get(Suppression, suppression_id)
    if row is None:
        raise NotFound(_("No such suppression."))
    email_service.lift_suppression(row, current_user)
    flash(_("%(email)s may be emailed again.", email=row.email), "success")
    return redirect(url_for("email.suppressions"))


# --- the outbox ----------------------------------------------------------------------------------

@bp.get("/outbox")
@login_required
def outbox():
    status = request.args.get("status") or ""
    query = select(OutboundEmail).where(access.outbound_email_visibility(current_user))
    if status == "problems":
        query = query.where(OutboundEmail.status.in_(
            [EmailStatus.FAILED, EmailStatus.NOT_SENT, EmailStatus.SENDING, EmailStatus.BOUNCED,
             EmailStatus.DROPPED, EmailStatus.SUPPRESSED]))
    elif status:
        try:
            query = query.where(OutboundEmail.status == EmailStatus(status))
        except ValueError:
            status = ""
    before = request.args.get("before", type=int)
    if before:
        query = query.where(OutboundEmail.id < before)
    rows = db.session.scalars(query.order_by(OutboundEmail.id.desc()).limit(PAGE_SIZE + 1)).all()
    more = len(rows) > PAGE_SIZE
    return render_template("email/outbox.html", messages=rows[:PAGE_SIZE], status=status,
                           statuses=[s.value for s in EmailStatus], now=utcnow(),
                           next_before=rows[PAGE_SIZE - 1].id if more else None)


@bp.post("/outbox/<int:message_id>/send-again")
@login_required
def send_again(message_id: int):
    message = access.get_outbound_email(current_user, message_id)
    try:
        email_service.send_again(message, current_user)
    except Conflict as exc:
        db.session.rollback()
        flash(exc.message, "danger")
    else:
        flash(_("Queued again: %(subject)s", subject=message.subject), "success")
    target = request.form.get("next") or ""
    if target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect(url_for("email.outbox"))


# --- composing on the lead page ------------------------------------------------------------------

def compose_form(lead, formdata=None) -> ComposeForm:
    form = ComposeForm(formdata=formdata) if formdata is not None else ComposeForm()
    if not form.nonce.data:
        form.nonce.data = secrets.token_urlsafe(12)
    keys = db.session.scalars(select(EmailTemplate.key).distinct().order_by(EmailTemplate.key)).all()
    form.template.choices = [SelectChoice("", _("Write my own"))] + [SelectChoice(k) for k in keys]
    return form


@bp.app_template_global()
def email_panel(lead, form: ComposeForm | None = None) -> dict:
    """What the lead page's email panel shows: the compose form and the lead's recent mail."""
    messages = db.session.scalars(select(OutboundEmail).where(OutboundEmail.lead_id == lead.id)
                                  .order_by(OutboundEmail.id.desc()).limit(10)).all()
    received = db.session.scalars(
        select(Touch).where(Touch.lead_id == lead.id, Touch.channel == Channel.EMAIL,
                            Touch.direction == Direction.INBOUND, Touch.provider == inbound.SOURCE)
        .order_by(Touch.occurred_at.desc()).limit(5)).all()
    return {"form": form or compose_form(lead), "messages": messages, "received": received, "now": utcnow(),
            "can_compose": access.can_change_lead(current_user, lead)}


@bp.post("/leads/<int:lead_id>/emails")
@login_required
def compose(lead_id: int):
    lead = access.get_lead(current_user, lead_id, for_change=True)
    form = compose_form(lead, formdata=request.form)
    if form.validate_on_submit():
        try:
            message = _queue_from_form(form, lead)
        except DomainError as exc:
            db.session.rollback()
            lead = access.get_lead(current_user, lead_id, for_change=True)
            _errors_beside_fields(form, exc)
        else:
            flash(_("Email to %(to)s queued: %(subject)s", to=message.to_email, subject=message.subject), "success")
            return redirect(url_for("leads.show", lead_id=lead.id) + "#email-panel")
    from crm.leads.views import workspace_context

    return render_template("leads/show.html", **workspace_context(lead), compose_form=form), 422


def _queue_from_form(form: ComposeForm, lead) -> OutboundEmail:
    template_key = form.template.data or None
    if not template_key:
        errors = {}
        if not (form.subject.data or "").strip():
            errors["subject"] = _("Write a subject, or pick a template.")
        if not (form.body.data or "").strip():
            errors["body"] = _("Write a message, or pick a template.")
        if errors:
            raise ValidationFailed(_("The email is not complete."), fields=errors)
    try:
        return queue_email(idempotency_key=f"compose:{lead.id}:{current_user.id}:{form.nonce.data}",
                           contact=lead.contact, lead=lead, user=current_user, template_key=template_key,
                           subject=None if template_key else form.subject.data,
                           body=None if template_key else form.body.data)
    except EmailBlocked as exc:
        raise ValidationFailed(exc.message, fields={"subject" if template_key is None else "template": exc.message}) \
            from exc
    except NotFound as exc:
        raise ValidationFailed(exc.message, fields={"template": exc.message}) from exc


@bp.get("/emails/received/<int:touch_id>")
@login_required
def received(touch_id: int):
    """One email we received, its HTML sanitised when it arrived, and its attachments listed."""
    touch = db.session.get(Touch, touch_id)
    if touch is None or touch.provider != inbound.SOURCE:
        raise NotFound(_("No such email."))
    access.get_contact(current_user, touch.contact_id)  # NotFound unless this contact is visible
    event = db.session.scalar(select(InboundEvent).where(InboundEvent.source == inbound.SOURCE,
                                                         InboundEvent.subject_key == touch.external_id))
    payload = event.payload if event is not None else {}
    return render_template("email/received.html", touch=touch, payload=payload,
                           html=Markup(sanitise_html(payload.get("html") or "")))  # noqa: S704 (allow-list sanitised)


# --- unsubscribing (no sign-in) ------------------------------------------------------------------

@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # one-click unsubscribe (RFC 8058) posts from the mail provider, without our form
def unsubscribe(token: str):
    message = email_service.find_by_token(token)
    if message is None:
        abort(404)
    if request.method == "POST":
        email_service.unsubscribe(message)
        return render_template("email/unsubscribed.html", address=message.to_email)
    return render_template("email/unsubscribe.html", address=message.to_email, token=token,
                           already=is_suppressed(message.to_email))
