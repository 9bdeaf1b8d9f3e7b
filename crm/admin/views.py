"""Admin: users, teams and lost reasons; links to every feature's admin page."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from crm import access
from crm.admin.forms import LostReasonForm, TeamForm, UserForm
from crm.auth import service as auth
from crm.auth.models import Role, Team, User
from crm.db import collated
from crm.errors import DomainError, NotFound
from crm.extensions import db
from crm.leads import service as leads
from crm.leads.models import LostReason

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Admin pages that features provide; shown on the index when their endpoint exists.
FEATURE_PAGES = [
    ("cadences.index", _l("Cadences"), _l("Steps every new lead goes through")),
    ("email.templates", _l("Email templates"), _l("Subjects and bodies per language")),
    ("email.suppressions", _l("Suppression list"), _l("Addresses nobody may email")),
    ("integrations.index", _l("Integrations"), _l("Phone system, chat and social webhooks")),
    ("scheduler.jobs", _l("Scheduled jobs"), _l("Last and next runs, failures")),
    ("imports.index", _l("Imports"), _l("Contacts and leads from CSV files")),
]


@bp.before_request
@login_required
def admins_only():
    access.require_admin(current_user)


def _apply_errors(form, exc: DomainError) -> None:
    for name, message in exc.fields.items():
        if name in form._fields:
            form[name].errors = [*form[name].errors, message]
    if not any(name in form._fields for name in exc.fields):
        flash(exc.message, "danger")


def first_steps() -> list[tuple[str, str, bool]]:
    """What a new installation needs, in order: (endpoint, what to do, done?)."""
    from crm.email.models import EmailTemplate

    teams = db.session.scalar(select(func.count()).select_from(Team)) or 0
    reps = db.session.scalar(select(func.count()).select_from(User).where(User.role != Role.ADMIN)) or 0
    reasons = db.session.scalar(select(func.count()).select_from(LostReason)) or 0
    templates = db.session.scalar(select(func.count()).select_from(EmailTemplate)) or 0
    steps = [
        ("admin.teams", _("Create a team and set its time zone (Teams → the team)."), teams > 0),
        ("admin.new_user", _("Add your reps and managers, each with a team and language."), reps > 0),
        ("admin.lost_reasons", _("List the reasons a lead can be lost."), reasons > 0),
        ("email.templates", _("Write the follow-up email for leads never reached."), templates > 0),
        ("imports.index", _("Import your contacts and leads from a CSV file."), None),
    ]
    return [(e, text, done) for e, text, done in steps if e in current_app.view_functions]


@bp.get("/")
def index():
    pages = [(e, label, hint) for e, label, hint in FEATURE_PAGES if e in current_app.view_functions]
    steps = first_steps()
    setting_up = any(done is False for _e, _text, done in steps)
    return render_template("admin/index.html", pages=pages, steps=steps, setting_up=setting_up)


@bp.get("/users")
def users():
    rows = db.session.scalars(select(User).options(selectinload(User.team))
                              .order_by(User.active.desc(), collated(User.name, db.session), User.id)).all()
    return render_template("admin/users.html", users=rows)


def _user_form(user: User | None = None) -> UserForm:
    form = UserForm(obj=user)
    teams = db.session.scalars(select(Team).order_by(Team.name))
    form.team_id.choices = [SelectChoice("", _("No team"))] + [SelectChoice(t.id, t.name) for t in teams]
    return form


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    form = _user_form()
    if form.validate_on_submit():
        try:
            team = db.session.get(Team, form.team_id.data) if form.team_id.data else None
            user = auth.create_user(form.email.data, form.password.data or "", form.role.data, name=form.name.data,
                                    team=team.name if team else None, timezone=form.timezone.data.strip(),
                                    locale=form.locale.data, hourly_cost=form.hourly_cost.data, actor=current_user)
            auth.update_user(user, actor=current_user, capacity=form.capacity.data, territory=(form.territory.data or "").upper())
        except DomainError as exc:
            db.session.rollback()
            _apply_errors(form, exc)
        else:
            flash(_("User %(email)s created.", email=user.email), "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=None), 422 if form.errors else 200


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int):
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("No such user."))
    form = _user_form(user)
    if form.validate_on_submit():
        try:
            auth.update_user(user, actor=current_user, password=form.password.data or None, name=form.name.data.strip(),
                             role=form.role.data, team_id=form.team_id.data, timezone=form.timezone.data.strip(),
                             locale=form.locale.data, hourly_cost=form.hourly_cost.data or 0, capacity=form.capacity.data,
                             territory=(form.territory.data or "").upper(), active=form.active.data)
        except DomainError as exc:
            db.session.rollback()
            user = db.session.get(User, user_id)
            _apply_errors(form, exc)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=user), 422 if form.errors else 200


@bp.get("/teams")
def teams():
    rows = db.session.scalars(select(Team).order_by(Team.name)).all()
    return render_template("admin/teams.html", teams=rows)


@bp.route("/teams/<int:team_id>", methods=["GET", "POST"])
def edit_team(team_id: int):
    team = db.session.get(Team, team_id)
    if team is None:
        raise NotFound(_("No such team."))
    form = TeamForm(obj=team)
    if form.validate_on_submit():
        try:
            auth.update_team(team, actor=current_user, name=form.name.data, timezone=form.timezone.data.strip(),
                             pool_mode=form.pool_mode.data, speed_to_lead_seconds=form.speed_to_lead_seconds.data,
                             handoff_sla_hours=form.handoff_sla_hours.data,
                             handoff_min_criteria=form.handoff_min_criteria.data, handoff_rule=form.handoff_rule.data)
        except DomainError as exc:
            db.session.rollback()
            team = db.session.get(Team, team_id)
            _apply_errors(form, exc)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("admin.teams"))
    return render_template("admin/team_form.html", form=form, team=team), 422 if form.errors else 200


@bp.route("/lost-reasons", methods=["GET", "POST"])
def lost_reasons():
    form = LostReasonForm()
    if form.validate_on_submit():
        try:
            leads.add_lost_reason(form.label.data, actor=current_user)
        except DomainError as exc:
            db.session.rollback()
            _apply_errors(form, exc)
        else:
            flash(_("Reason added."), "success")
            return redirect(url_for("admin.lost_reasons"))
    rows = db.session.scalars(select(LostReason).order_by(LostReason.active.desc(), LostReason.label)).all()
    return render_template("admin/lost_reasons.html", form=form, reasons=rows), 422 if form.errors else 200


@bp.post("/lost-reasons/<int:reason_id>/toggle")
def toggle_lost_reason(reason_id: int):
    reason = db.session.get(LostReason, reason_id)
    if reason is None:
        raise NotFound(_("No such reason."))
    leads.set_lost_reason_active(reason, not reason.active, actor=current_user)
    return redirect(url_for("admin.lost_reasons"))
