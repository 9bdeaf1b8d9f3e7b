"""Keyset pagination: newest first by id, an opaque cursor, never OFFSET."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from flask_babel import gettext as _

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
