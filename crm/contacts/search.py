"""Finding a contact by name, company, email or any way of writing a phone number.

`+351 912 345 678`, `912345678` and `00351912345678` find the same person: a query
that parses as a phone number is matched on its E.164 form, and its digits also
match the end of stored numbers. On PostgreSQL trigram indexes keep substring
search fast at a million contacts; SQLite scans with LIKE.
"""

from __future__ import annotations

import re

import phonenumbers
from flask import current_app
from sqlalchemy import ColumnElement, exists, false, func, or_

from crm.contacts.models import Account, Contact

_DIGITS = re.compile(r"\D+")


def phone_forms(query: str) -> tuple[str | None, str | None]:
    """(E.164 if the query is a phone number, its significant digits for suffix matching)."""
    digits = _DIGITS.sub("", query)
    if len(digits) < 6 or len(digits) < len(query.replace(" ", "")) - 4:
        return None, None
    e164 = None
    try:
        number = phonenumbers.parse(query, current_app.config["DEFAULT_PHONE_REGION"])
        if phonenumbers.is_valid_number(number):
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        pass
    national = digits.lstrip("0")
    return e164, national[-9:] if len(national) >= 6 else None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contact_search(query: str) -> ColumnElement[bool]:
    """The condition on Contact for ``query``; empty queries match nothing."""
    query = " ".join(query.split())
    if not query:
        return false()
    e164, suffix = phone_forms(query)
    if e164 or suffix:
        conditions = []
        if e164:
            conditions.append(Contact.phone == e164)
        if suffix:
            conditions.append(Contact.phone.like(f"%{suffix}"))
        return or_(*conditions)
    needle = f"%{_escape_like(query.lower())}%"
    full_name = func.lower(Contact.first_name + " " + Contact.last_name)
    return or_(
        full_name.like(needle, escape="\\"),
        func.lower(Contact.last_name + " " + Contact.first_name).like(needle, escape="\\"),
        func.lower(Contact.email).like(needle, escape="\\"),
        exists().where(Account.id == Contact.account_id, func.lower(Account.name).like(needle, escape="\\")),
    )
