"""Recording audit events; every state-changing service calls record()."""

from __future__ import annotations

from crm.audit.models import AuditEvent
from crm.extensions import db


def record(actor, action: str, entity, changes: dict | None = None) -> AuditEvent:
    """Add an audit event for ``entity`` (a model instance, flushed so it has an id; None for key-only rows)."""
    event = AuditEvent(
        actor_id=getattr(actor, "id", None),
        action=action,
        entity_type=entity.__tablename__,
        entity_id=getattr(entity, "id", None),
        changes=_jsonable(changes or {}),
    )
    db.session.add(event)
    return event


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "value"):  # enums
        return value.value
    return str(value)
