"""Domain errors that services raise and every web layer turns into a response.

Pages show them beside a field or as a flash; the API answers
``{"error": {"code", "message", "fields"}}`` with the status below.
"""

from __future__ import annotations


class DomainError(Exception):
    status = 422
    code = "invalid"

    def __init__(self, message: str, *, fields: dict[str, str] | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "fields": self.fields}}


class ValidationFailed(DomainError):
    status = 422
    code = "validation_error"


class NotFound(DomainError):
    """Missing, or not visible to this user: the two answer the same."""

    status = 404
    code = "not_found"


class AccessDenied(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class StageError(DomainError):
    status = 422
    code = "invalid_stage_change"
