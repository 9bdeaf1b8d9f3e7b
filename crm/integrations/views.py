"""Pages: /admin/integrations (admins), the screen-pop stream /events/stream, the API docs /api/docs."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from wtforms.fields.choices import SelectChoice

from crm import access
from crm.auth.models import Team
from crm.errors import DomainError, NotFound
from crm.extensions import db
from crm.integrations import screenpop, service
from crm.integrations.forms import ConfirmForm, IntegrationForm, RotateForm
from crm.integrations.models import InboundEvent, Integration

bp = Blueprint("integrations", __name__)


def _admin() -> None:
    access.require_admin(current_user)


def _form() -> IntegrationForm:
    form = IntegrationForm()
    teams = db.session.scalars(select(Team).order_by(Team.name))
    form.team_id.choices = [SelectChoice("", _("No team"))] + [SelectChoice(t.id, t.name) for t in teams]
    return form


def _get(integration_id: int) -> Integration:
    integration = db.session.get(Integration, integration_id)
    if integration is None:
        raise NotFound(_("No such integration."))
    return integration


def _listing(form: IntegrationForm, status: int = 200):
    rows = db.session.scalars(select(Integration).order_by(Integration.active.desc(), Integration.name)).all()
    pending = dict(db.session.execute(
        select(InboundEvent.source, func.count()).where(InboundEvent.processed_at.is_(None),
                                                        InboundEvent.source.like("integration:%"))
        .group_by(InboundEvent.source)).all())
    return render_template("integrations/index.html", integrations=rows, form=form, confirm=ConfirmForm(),
                           rotate=RotateForm(), pending=pending, source_key=service.source_key), status


@bp.get("/admin/integrations")
@login_required
def index():
    _admin()
    return _listing(_form())


@bp.post("/admin/integrations")
@login_required
def create():
    _admin()
    form = _form()
    if form.validate_on_submit():
        try:
            created = service.create_integration(name=form.name.data, channel=form.channel.data,
                                                 team_id=form.team_id.data, actor=current_user)
        except DomainError as exc:
            db.session.rollback()
            for name, message in exc.fields.items():
                if name in form._fields:
                    form[name].errors = [*form[name].errors, message]
        else:
            return render_template("integrations/secret.html", integration=created.integration,
                                   secret=created.secret, rotated=False)
    return _listing(form, 422)


@bp.post("/admin/integrations/<int:integration_id>/active")
@login_required
def toggle(integration_id: int):
    _admin()
    integration = _get(integration_id)
    if ConfirmForm().validate_on_submit():
        service.set_active(integration, not integration.active, actor=current_user)
        flash(_("%(name)s is now active.", name=integration.name) if integration.active
              else _("%(name)s is deactivated: its posts are refused.", name=integration.name), "success")
    return redirect(url_for("integrations.index"))


@bp.post("/admin/integrations/<int:integration_id>/rotate")
@login_required
def rotate(integration_id: int):
    _admin()
    integration = _get(integration_id)
    form = RotateForm()
    if not form.validate_on_submit():
        flash(_("The overlap is 0 to 336 hours."), "danger")
        return redirect(url_for("integrations.index"))
    secret = service.rotate_secret(integration, overlap_hours=form.overlap_hours.data, actor=current_user)
    return render_template("integrations/secret.html", integration=integration, secret=secret, rotated=True)


@bp.get("/events/stream")
def event_stream():
    """Signed-in users only (401 otherwise, not a redirect: EventSource cannot follow one to a login page)."""
    return screenpop.stream_response(current_user)


@bp.get("/api/docs")
def api_docs():
    """The API and webhook reference, rendered from the OpenAPI document (public, like the document)."""
    from crm.api.openapi import build_document
    from crm.integrations.apidocs import page_model

    return render_template("integrations/api_docs.html", doc=page_model(build_document()))
