"""Which language and time zone a request is shown in (defaults outside a request)."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError, support
from babel.numbers import NumberFormatError, parse_decimal
from flask import current_app, has_request_context, request
from flask_babel import force_locale, get_locale
from flask_login import current_user
from wtforms import DecimalField

log = logging.getLogger(__name__)

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"

# The region whose numbers, money and dates a language follows. Our Portuguese is European
# Portuguese: CLDR's plain "pt" is Brazil's ("€ 1.234,50"), pt_PT writes "1 234,50 €".
# The catalog is still found under translations/pt (gettext falls back from pt_PT to pt).
REGIONS = {"pt": "pt_PT"}


def regional(code: str) -> str:
    """The locale to format with for a language code ("pt" → "pt_PT"); other codes as they are."""
    return REGIONS.get(code, code)


def select_locale() -> str | None:
    """The signed-in user's language, else the browser's best match (pt-BR → pt), else English."""
    if not has_request_context():
        return None
    if current_user and current_user.is_authenticated and current_user.locale:
        return regional(known_locale(current_user.locale))
    return regional(request.accept_languages.best_match(current_app.config["LANGUAGES"]) or "en")


@functools.lru_cache(maxsize=32)
def _catalog(locale: str) -> support.NullTranslations:
    return support.Translations.load(str(TRANSLATIONS_DIR), [locale])


def N_(message: str) -> str:
    """Mark text that is stored (an outbox error) for extraction; pages translate it when shown: ``_(text)``."""
    return message


def gettext_in(locale: str | None, message: str) -> str:
    """``message`` in ``locale`` (a contact's "pt-BR", "ro"), leaving the request's language alone.

    For text that goes to someone other than the person signed in, such as an email's footer;
    safe in the sender's threads (nothing is stored on ``g``).
    """
    try:
        parsed = Locale.parse((locale or "en").replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return message
    return _catalog(str(parsed)).gettext(message)


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
    """``name`` when Babel knows it (a user's locale), else English; with its region ("pt" → "pt_PT")."""
    try:
        Locale.parse(name or "en")
    except (UnknownLocaleError, ValueError, TypeError):
        log.warning("unknown locale %r; using en", name)
        return "en"
    return regional(name or "en")


@contextmanager
def in_language(code: str | None) -> Iterator[str]:
    """Render the texts made inside in the language ``code`` (a profile's or contact's locale), else the
    app's default; yields the locale to format dates and numbers with (``"pt_PT"``).

    Text written for someone other than whoever is signed in — a job's tasks and emails, a webhook's
    task for a lead's owner, a hand-off sent back to the inside rep — is rendered in the reader's
    language when it is written, here, and stored as they will read it.
    """
    locale = known_locale(code or current_app.config.get("BABEL_DEFAULT_LOCALE"))
    with force_locale(locale):
        yield locale


def in_language_of(user) -> AbstractContextManager[str]:
    """``in_language`` of ``user``'s profile (None, or a user without a locale: the app's default)."""
    return in_language(getattr(user, "locale", None))


MACHINE_DECIMAL = re.compile(r"^-?\d+(\.\d{2})?$")  # what we write into inputs ourselves: 1234.50


class LocalDecimalField(DecimalField):
    """A DecimalField that also reads numbers as the user writes them: "1 234,50" (pt), "1.234,50" (ro)."""

    def process_formdata(self, valuelist):
        raw = valuelist[0].strip() if valuelist and isinstance(valuelist[0], str) else ""
        if raw and not MACHINE_DECIMAL.match(raw):
            valuelist = [read_local_decimal(raw)]
        super().process_formdata(valuelist)


def read_local_decimal(raw: str) -> str:
    """``raw`` in machine form when it is a number the reader's way, else as typed (then refused as not a number)."""
    try:
        return str(parse_decimal(raw, locale=get_locale() or "en"))
    except NumberFormatError:
        return raw
