"""CALLING_HOURS: when calls may be offered, in the contact's own time zone. Read in one place."""

from __future__ import annotations

from datetime import time

from flask import current_app


def calling_hours(raw: str | None = None) -> tuple[time, time]:
    """CALLING_HOURS ("08:00-21:00") as two local times; a malformed setting is refused, not guessed."""
    raw = raw if raw is not None else current_app.config.get("CALLING_HOURS") or "08:00-21:00"
    try:
        start, end = (time.fromisoformat(part.strip()) for part in raw.split("-"))
    except ValueError as exc:
        raise ValueError(f"CALLING_HOURS must look like 08:00-21:00, not {raw!r}") from exc
    if end <= start:
        raise ValueError(f"CALLING_HOURS must end after it starts: {raw!r}")
    return start, end
