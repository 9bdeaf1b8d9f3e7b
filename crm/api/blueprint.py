"""Token authentication, request validation and JSON errors for /api/v1."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import gettext as _
from flask_babel import ngettext
from pydantic import BaseModel, ValidationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Engine

from crm.auth.models import ApiToken, User
from crm.db import is_postgresql
from crm.errors import DomainError
from crm.extensions import csrf, db

api_bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(api_bp)

PUBLIC_ENDPOINTS = {"api.openapi_document"}
# Endpoints that only read (``endpoint(..., read_only=True)``): on PostgreSQL their statements run without a
# transaction block, each on its own snapshot as in a READ COMMITTED transaction, which spares the BEGIN and
# COMMIT round trips (two of a lead's four). Nothing here may need SET LOCAL, a lock or several statements'
# changes kept together.
READ_ONLY_ENDPOINTS: set[str] = set()


@dataclass
class EndpointSpec:
    rule: str
    method: str
    summary: str
    tags: list[str]
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    responses: dict[int, str] = field(default_factory=dict)
    public: bool = False
    raw_body: dict | None = None  # an explicit request body schema (multipart, webhooks)
    headers: list[dict] = field(default_factory=list)  # header parameters (the webhooks' signature headers)


SPECS: list[EndpointSpec] = []


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def current_api_user() -> User:
    return g.api_user


def _error(status: int, code: str, message: str, fields: dict | None = None):
    return jsonify({"error": {"code": code, "message": message, "fields": fields or {}}}), status


@functools.cache
def _token_statement():
    """The user and the token's id and last use, by the token's hash, in one statement built once: this runs on
    every API call (the token itself is not loaded as an object)."""
    return (select(User, ApiToken.id, ApiToken.last_used_at).join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None)))


def _without_transaction_block() -> None:
    """A read-only request's statements each commit alone (PostgreSQL, a session on the engine's pool)."""
    session = db.session()
    # A session bound to one connection (the tests' outer transaction) cannot change its isolation level.
    if isinstance(session.get_bind(), Engine) and is_postgresql(session) and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})  # the pool resets it on return


@api_bp.before_request
def authenticate():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _error(401, "unauthorized", _("Send 'Authorization: Bearer <token>'; make one with `crm create-token`."))
    if request.endpoint in READ_ONLY_ENDPOINTS:
        _without_transaction_block()

    row = db.session.execute(_token_statement(), {"digest": token_digest(token.strip())}).first()
    user, token_id, last_used_at = row if row is not None else (None, None, None)
    if user is None or not user.active:
        return _error(401, "unauthorized", _("That token is unknown, revoked, or its user is deactivated."))
    now = datetime.now(UTC)
    if last_used_at is None or (now - last_used_at).total_seconds() > 60:  # at most once a minute
        db.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
    g.api_user = user
    return None


def _field_path(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query")]
    return ".".join(parts) or "body"


def validation_fields(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        fields.setdefault(_field_path(err["loc"]), _field_message(err))
    return fields


def _field_message(err: dict) -> str:
    """Pydantic's message for one field, in the request's language for the common kinds of mistake."""
    ctx = err.get("ctx") or {}
    kind = err["type"]
    if kind == "missing":
        return _("Required.")
    if kind == "string_too_long" and "max_length" in ctx:
        return ngettext("At most %(num)d character.", "At most %(num)d characters.", ctx["max_length"])
    if kind == "string_too_short" and "min_length" in ctx:
        return ngettext("At least %(num)d character.", "At least %(num)d characters.", ctx["min_length"])
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return _("A whole number.")
    if kind in ("decimal_parsing", "decimal_type", "float_parsing", "float_type"):
        return _("A number.")
    if kind == "greater_than_equal" and "ge" in ctx:
        return _("%(limit)s or more.", limit=ctx["ge"])
    if kind == "less_than_equal" and "le" in ctx:
        return _("%(limit)s or less.", limit=ctx["le"])
    if kind == "extra_forbidden":
        return _("Not a field of this request.")
    return err["msg"]


def _body_limit() -> str:
    limit = current_app.config["API_MAX_BODY"]
    return ngettext("Bodies are limited to %(num)d byte.", "Bodies are limited to %(num)d bytes.", limit)


def _parse_body(model: type[BaseModel]):
    if request.content_length and request.content_length > current_app.config["API_MAX_BODY"]:
        return None, _error(413, "payload_too_large", _body_limit())
    raw = request.get_data(cache=True)
    if len(raw) > current_app.config["API_MAX_BODY"]:
        return None, _error(413, "payload_too_large", _body_limit())
    if not request.is_json:
        return None, _error(415, "unsupported_media_type", _("Send the body as JSON with 'Content-Type: application/json'."))
    try:
        return model.model_validate_json(raw or b"null"), None
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            return None, _error(400, "invalid_json", _("The body is not valid JSON."))
        return None, _error(422, "validation_error", _("Some fields are missing or wrong."), validation_fields(exc))


def _parse_query(model: type[BaseModel]):
    data: dict[str, Any] = {}
    for key in request.args:
        values = request.args.getlist(key)
        data[key] = values if len(values) > 1 else values[0]
    try:
        return model.model_validate(data), None
    except ValidationError as exc:
        return None, _error(422, "validation_error", _("Some query parameters are wrong."), validation_fields(exc))


def endpoint(rule: str, method: str = "GET", *, summary: str, tags: list[str], body: type[BaseModel] | None = None,
             query: type[BaseModel] | None = None, response: type[BaseModel] | None = None, status: int = 200,
             responses: dict[int, str] | None = None, public: bool = False, raw_body: dict | None = None,
             blueprint: Blueprint | None = None, read_only: bool = False) -> Callable:
    """Register an API route whose body and query are validated by pydantic models.

    The view gets ``body=`` and ``query=`` keyword arguments and returns a
    model, a dict, or a (payload, status) pair. The same models describe the
    route in the OpenAPI document. ``read_only``: the view writes nothing and needs no transaction
    (see READ_ONLY_ENDPOINTS).
    """
    bp = blueprint or api_bp

    def decorate(view):
        @functools.wraps(view)
        def wrapper(**kwargs):
            if body is not None:
                parsed, err = _parse_body(body)
                if err:
                    return err
                kwargs["body"] = parsed
            if query is not None:
                parsed, err = _parse_query(query)
                if err:
                    return err
                kwargs["query"] = parsed
            result = view(**kwargs)
            code = status
            if isinstance(result, tuple):
                result, code = result
            if result is None:
                return "", code
            if isinstance(result, BaseModel):  # pydantic writes the JSON itself (its Rust core: no dict between)
                return current_app.response_class(result.model_dump_json(), code, mimetype="application/json")
            return jsonify(result), code

        endpoint_name = f"{view.__module__.split('.')[-2]}_{view.__name__}"
        bp.add_url_rule(rule, endpoint=endpoint_name, view_func=wrapper, methods=[method])
        prefix = bp.url_prefix or ""
        SPECS.append(EndpointSpec(prefix + rule, method, summary, tags, body, query, response, status,
                                  responses or {}, public, raw_body))
        if public:
            PUBLIC_ENDPOINTS.add(f"{bp.name}.{endpoint_name}")
        if read_only:
            READ_ONLY_ENDPOINTS.add(f"{bp.name}.{endpoint_name}")
        return wrapper

    return decorate


@api_bp.errorhandler(DomainError)
def api_domain_error(exc: DomainError):
    db.session.rollback()
    return jsonify(exc.to_dict()), exc.status


from crm.api import openapi  # noqa: E402,F401  (registers /openapi.json)
