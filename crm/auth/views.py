"""Sign-in and sign-out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from crm.auth.forms import LoginForm, ProfileForm
from crm.auth.service import authenticate, check_password, update_user
from crm.errors import DomainError, ValidationFailed
from crm.extensions import db, limiter

bp = Blueprint("auth", __name__)


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _safe_next(target: str | None) -> str:
    if target and not urlsplit(target).netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("dashboard.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], error_message=lambda: _("Too many attempts. Wait a minute before trying again."))
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append(_("Wrong email or password."))
    return render_template("auth/login.html", form=form), 422 if form.errors else 200


@bp.post("/logout")
@login_required
def logout():
    flash(_("You are signed out."), "info")  # before signing out: in the user's language, not the browser's
    logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    """Your own name, language, time zone and password."""
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit():
        try:
            if form.new_password.data and not check_password(current_user, form.current_password.data or ""):
                raise ValidationFailed(_("Your current password is not right."),
                                       fields={"current_password": _("Your current password is not right.")})
            update_user(current_user, actor=current_user, name=form.name.data.strip(), locale=form.locale.data,
                        timezone=form.timezone.data.strip(), password=form.new_password.data or None)
        except DomainError as exc:
            db.session.rollback()
            for name, message in exc.fields.items():
                target = {"password": "new_password"}.get(name, name)
                if target in form._fields:
                    form[target].errors = [*form[target].errors, message]
        else:
            flash(_("Your profile is saved."), "success")
            return redirect(url_for("auth.profile"))
    return render_template("auth/profile.html", form=form), 422 if form.errors else 200
