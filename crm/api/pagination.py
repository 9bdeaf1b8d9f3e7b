"""Keyset pagination: newest first by id, an opaque cursor, never OFFSET."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

from flask_babel import gettext as _
from sqlalchemy import literal, tuple_

from crm.errors import ValidationFailed

MAX_LIMIT = 200


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _sep, value = raw.partition(":")
        if prefix != "id":
            raise ValueError(raw)
        return int(value)
    except ValueError as exc:
        raise ValidationFailed(_("That cursor is not one we gave out."), fields={"cursor": _("Invalid cursor.")}) from exc


def page(stmt, id_column, *, cursor: str | None, limit: int, session) -> tuple[Sequence, str | None]:
    """One page of ``stmt`` (newest first) and the cursor of the next page, if any."""
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(id_column < after)
    rows = session.scalars(stmt.order_by(id_column.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1].id) if more and rows else None)


def encode_name_cursor(name: str, last_id: int) -> str:
    return base64.urlsafe_b64encode(("name:" + json.dumps([name, last_id])).encode()).decode().rstrip("=")


def decode_name_cursor(cursor: str | None) -> tuple[str, int] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _sep, value = raw.partition(":")
        name, last_id = json.loads(value) if prefix == "name" else (None, None)
        if not isinstance(name, str) or not isinstance(last_id, int):
            raise ValueError(raw)
        return name, last_id
    except ValueError as exc:  # bad base64, UTF-8 or JSON are all ValueErrors
        raise ValidationFailed(_("That cursor is not one we gave out."), fields={"cursor": _("Invalid cursor.")}) from exc


def page_by_name(stmt, name_expr, id_column, name_of, *, cursor: str | None, limit: int,
                 session) -> tuple[Sequence, str | None]:
    """One page of ``stmt`` in name order (``collated``: locale-aware) and the next page's cursor.

    Keyset on (name, id) like ``page``: the cursor carries the last row's name (``name_of(row)``,
    the same text as ``name_expr``) and id, so no page is skipped or repeated as rows are added.
    """
    from crm.db import collated

    key = collated(name_expr, session)
    after = decode_name_cursor(cursor)
    if after is not None:
        # A row comparison, which PostgreSQL answers from an index on (name, id) alone.
        stmt = stmt.where(tuple_(key, id_column) > tuple_(literal(after[0]), literal(after[1])))
    rows = session.scalars(stmt.order_by(key, id_column).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_name_cursor(name_of(rows[-1]), rows[-1].id) if more and rows else None)
