"""What every page request shares: the single commit point, error pages, template helpers."""

from __future__ import annotations

import logging

from flask import Flask, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from crm.errors import DomainError
from crm.extensions import db, login_manager

log = logging.getLogger(__name__)


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
            return jsonify({"error": {"code": code, "message": exc.description, "fields": {}}}), exc.code
        template = {403: "errors/403.html", 404: "errors/404.html", 429: "errors/429.html"}.get(
            exc.code, "errors/400.html" if (exc.code or 500) < 500 else "errors/500.html"
        )
        return render_template(template, message=exc.description), exc.code

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
            body = {"error": {"code": "internal_error", "message": "Something went wrong on our side.", "fields": {}}}
            return jsonify(body), 500
        return render_template("errors/500.html"), 500

    @app.template_filter("local_dt")
    def local_dt(value, fmt="medium"):
        return format_datetime(value, fmt) if value else "—"

    @app.context_processor
    def navigation():
        from crm.access import navigation_for

        return {"nav_items": navigation_for(current_user) if current_user.is_authenticated else []}
