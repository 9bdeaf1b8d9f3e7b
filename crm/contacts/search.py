"""Finding a contact by name, company, email or any way of writing a phone number.

`+351 912 345 678`, `912345678` and `00351912345678` find the same person: a query
that parses as a phone number is matched on its E.164 form, and its digits also
match the end of stored numbers. Names match without regard to case or accents, in
any script ("joao" finds João, "stefan" Ștefan, "елкин" Ёлкин): the query is folded the
way each contact's stored ``search_name`` is (crm.contacts.folding). On PostgreSQL
trigram indexes keep substring search fast at a million contacts, and a rep's search reads only the
matches they may see from indexes on (access keys, trigrams) (migration 0018); SQLite scans with LIKE.
"""

from __future__ import annotations

import re

import phonenumbers
from flask import current_app
from sqlalchemy import ColumnElement, Integer, Text, any_, bindparam, false, func, literal_column, or_, select, union
from sqlalchemy.dialects.postgresql import ARRAY

from crm import access
from crm.contacts.folding import fold
from crm.contacts.models import Account, Contact
from crm.schema import ACCESS_KEYS

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
        e164 = None  # not a whole phone number; its digits may still end a stored one
    national = digits.lstrip("0")
    return e164, national[-9:] if len(national) >= 6 else None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


MAX_MATCHES = 5000
# A word shorter than a trigram matches where a word starts ("an" finds Ana Silva and Big Andes Ltd, not Susan):
# PostgreSQL's trigram indexes hold each word's first letters padded ("  a", " an"), which "an%" and "% an%"
# look up, but no trigram for "an" inside a word, so "%an%" would read every contact (~1 s at a million).
SHORT = 3


def _contains(column, text: str, *, word_starts: bool = True) -> ColumnElement[bool]:
    """``text`` anywhere in ``column`` (lower-case); if it is SHORT, at the start of ``column`` or, with
    ``word_starts``, of one of its words. LIKE's wildcards typed in ``text`` are plain characters."""
    escaped = _escape_like(text)
    if len(text) >= SHORT:
        return column.like(f"%{escaped}%", escape="\\")
    starts = column.like(f"{escaped}%", escape="\\")
    return or_(starts, column.like(f"% {escaped}%", escape="\\")) if word_starts else starts


def account_name_matches(query: str) -> ColumnElement[bool]:
    """Companies whose name holds ``query``."""
    return _contains(func.lower(Account.name), " ".join(query.lower().split()))


# Not on the model: PostgreSQL's triggers keep it and the ORM never reads it (migration 0018, crm.schema).
# Written as text, it names the unaliased contacts of the branch it is used in.
_ACCESS_KEYS = literal_column(f"contacts.{ACCESS_KEYS}", ARRAY(Text))


def _matches(query: str, postgresql: bool = False, keys: list[str] | None = None):
    """select(id) of contacts matching ``query``: a UNION of index-friendly branches. With ``keys``
    (PostgreSQL), only contacts holding one of them: the words and the keys are read from one index."""
    query = " ".join(query.split())
    if not query:
        return select(Contact.id).where(false())
    e164, suffix = phone_forms(query)
    if e164 or suffix:
        conditions = []
        if e164:
            conditions.append(Contact.phone == e164)
        if suffix and postgresql:
            # The number read backwards starts with the digits backwards: a btree range on the reversed
            # number (migration 0017). Digits are few symbols, so their trigram lists are long: a trigram
            # "ends with" took ~8 ms at a million contacts.
            # The pattern is written into the statement: with it as a parameter, a prepared statement's generic
            # plan cannot turn the LIKE into a range and reads every contact.
            conditions.append(func.reverse(Contact.phone).like(
                bindparam("phone_backwards", f"{suffix[::-1]}%", literal_execute=True)))
        elif suffix:
            conditions.append(Contact.phone.like(f"%{suffix}"))
        return select(Contact.id).where(or_(*conditions))
    # Every word somewhere in the name, in any order ("silva ana" finds Ana Silva).
    words = fold(query).split(" ")
    by_name = [_contains(Contact.search_name, w) for w in words if w] or [false()]
    allowed = [_ACCESS_KEYS.overlap(keys)] if postgresql and keys else []
    # One branch per indexed expression: an OR across them (or with a subquery) would
    # stop PostgreSQL from using the trigram indexes and scan every contact.
    branches = [select(Contact.id).where(*allowed, *by_name)]
    if " " not in query:  # no email address holds a space: a name search does not read the email index
        # a short one starts the address: "an" finds anna@, not joanna@ (nor jo.anna@)
        branches.append(select(Contact.id).where(
            *allowed, _contains(func.lower(Contact.email), query.lower(), word_starts=False)))
    branches.append(select(Contact.id).join(Account, Account.id == Contact.account_id)
                    .where(account_name_matches(query), *allowed))
    return union(*branches)


def matches_search(column, query: str, session, user) -> ColumnElement[bool]:
    """A condition on ``column`` (a contact id) for contacts matching ``query``, searched for ``user``.

    The newest MAX_MATCHES matches count: a search matching more people than that
    shows the newest, and should be narrowed. On PostgreSQL the ids are handed over
    as an array, so the outer query looks them up by key instead of walking every
    contact and testing each (seconds at a million rows); a rep's matches are only
    those with one of their access keys (crm.access.contact_search_keys), so their
    newest MAX_MATCHES are their own. The caller still applies who may see what.
    """
    from crm.db import is_postgresql

    postgresql = is_postgresql(session)
    found = _matches(query, postgresql, access.contact_search_keys(user)).subquery()
    # The cap is written into the statement: a generic plan that must guess it may rather walk every contact
    # newest first, hoping to stop early, than read the few matches from an index and sort them.
    newest = select(found.c.id).order_by(found.c.id.desc()).limit(literal_column(str(MAX_MATCHES), Integer))
    if postgresql:
        return column == any_(func.array(newest.scalar_subquery()))
    return column.in_(newest)
