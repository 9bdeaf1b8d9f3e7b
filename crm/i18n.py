"""Which language and time zone a request is shown in (defaults outside a request)."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from flask import current_app, has_request_context, request
from flask_login import current_user

log = logging.getLogger(__name__)


def select_locale() -> str | None:
    if not has_request_context():
        return None
    if current_user and current_user.is_authenticated and current_user.locale:
        return current_user.locale
    return request.accept_languages.best_match(current_app.config["LANGUAGES"]) or "en"


def select_timezone() -> str | None:
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.timezone
    return None


def zone_of(name: str | None) -> ZoneInfo:
    """The IANA zone ``name`` (a user's or contact's), UTC when it is empty or unknown."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r; using UTC", name)
        return ZoneInfo("UTC")


def known_locale(name: str | None) -> str:
    """``name`` when Babel knows it (a user's locale), else English."""
    try:
        Locale.parse(name or "en")
    except (UnknownLocaleError, ValueError, TypeError):
        log.warning("unknown locale %r; using en", name)
        return "en"
    return name or "en"
