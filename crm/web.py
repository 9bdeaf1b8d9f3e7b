"""What every page request shares: the single commit point, error pages, template helpers."""

from __future__ import annotations

import logging

from babel import Locale, UnknownLocaleError
from flask import Flask, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import format_currency, format_date, format_datetime, format_decimal, format_time, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from crm.errors import DomainError
from crm.extensions import db, login_manager
from crm.labels import label

log = logging.getLogger(__name__)

# What an HTTP error says when the code raising it gave no reason of its own.
HTTP_MESSAGES = {
    400: _l("The request could not be understood. Check what you sent and try again."),
    401: _l("Sign in first."),
    403: _l("You may not do this. Ask an admin if you need it."),
    404: _l("There is nothing here, or it is not yours to see."),
    405: _l("This address does not accept that kind of request."),
    413: _l("That is too large. Send a smaller file or body."),
    429: _l("Too many attempts. Wait a minute before trying again."),
}


def http_message(exc: HTTPException) -> str | None:
    """The reason given when raising ``exc``, else a translated sentence for its code (None when there is none)."""
    if exc.description and exc.description != type(exc).description:
        return exc.description
    text = HTTP_MESSAGES.get(exc.code or 0)
    return str(text) if text is not None else None


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/webhooks/"))


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = None

    @login_manager.user_loader
    def load_user(user_id: str):
        from crm.auth.models import User

        return db.session.get(User, int(user_id))

    @app.after_request
    def commit_once(response):
        """The one commit point: a request that answered below 400 keeps its work."""
        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
        return response

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        db.session.rollback()
        if wants_json():
            return jsonify(exc.to_dict()), exc.status
        if exc.status == 404:
            return render_template("errors/404.html"), 404
        flash(exc.message, "danger")
        return redirect(request.referrer or url_for("dashboard.index"))

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return render_template("errors/400.html", message=_("The form expired. Reload the page and try again.")), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        db.session.rollback()
        if wants_json():
            code = (exc.name or "error").lower().replace(" ", "_")
            message = http_message(exc) or exc.description
            return jsonify({"error": {"code": code, "message": message, "fields": {}}}), exc.code
        template = {403: "errors/403.html", 404: "errors/404.html", 429: "errors/429.html"}.get(
            exc.code, "errors/400.html" if (exc.code or 500) < 500 else "errors/500.html"
        )
        return render_template(template, message=http_message(exc)), exc.code

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def value_does_not_fit(exc: Exception):
        """A value the database cannot hold (an id past 64 or 32 bits, text with NUL): the caller's fault."""
        db.session.rollback()
        log.info("refused a value the database cannot store on %s %s: %s", request.method, request.path, exc)
        message = _("A number is too large or a text contains a NUL character.")
        if wants_json():
            return jsonify({"error": {"code": "validation_error", "message": message, "fields": {}}}), 422
        return render_template("errors/400.html", message=message), 400

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            body = {"error": {"code": "internal_error", "message": _("Something went wrong on our side."), "fields": {}}}
            return jsonify(body), 500
        return render_template("errors/500.html"), 500

    @app.template_filter("local_dt")
    def local_dt(value, fmt="medium"):
        """A moment in the reader's language and time zone."""
        return format_datetime(value, fmt) if value else "—"

    @app.template_filter("local_date")
    def local_date(value, fmt="medium"):
        return format_date(value, fmt) if value else "—"

    @app.template_filter("zone_time")
    def zone_time(value, fmt="short"):
        """A wall-clock time already in someone else's zone (the contact's), in the reader's language."""
        return format_time(value, fmt, rebase=False) if value else "—"

    @app.template_filter("money")
    def money(value, currency=None):
        """``1234.5, "EUR"`` → "€1,234.50" / "1 234,50 €" (pt) / "1.234,50 EUR" (ro)."""
        if value is None:
            return "—"
        return format_currency(value, (currency or app.config["DEFAULT_CURRENCY"]).upper())

    @app.template_filter("number")
    def number(value):
        return format_decimal(value) if value is not None else "—"

    app.add_template_filter(label, "label")
    app.jinja_env.globals["get_locale"] = get_locale  # <html lang>: Flask-Babel 4 no longer provides it

    @app.template_filter("language_name")
    def language_name(code):
        """A language code as its name in the reader's language: "pt-BR" → "Portuguese (Brazil)"."""
        try:
            return Locale.parse((code or "").replace("-", "_")).get_display_name(get_locale()) or code
        except (UnknownLocaleError, ValueError, TypeError):
            return code or "—"

    @app.context_processor
    def navigation():
        from crm.access import navigation_for

        return {"nav_items": navigation_for(current_user) if current_user.is_authenticated else []}
