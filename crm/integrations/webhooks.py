"""POST /webhooks/calls, /webhooks/chat, /webhooks/social: signed events from other systems.

Order of checks, each refusing with the one error shape and changing nothing:
size (413) → integration named by X-Touchline-Integration, active, of this channel (401)
→ HMAC signature over ``timestamp.raw body`` and the timestamp's age (401), before the
body is parsed → JSON (400) and its fields (422, with field paths) → apply. The request
commits once (crm/web.py) when the answer is below 400.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, jsonify, request
from pydantic import BaseModel, Field, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from crm.api.blueprint import SPECS, EndpointSpec, validation_fields
from crm.db import utcnow
from crm.extensions import csrf
from crm.integrations import calls, conversations, service, signing
from crm.integrations.models import IntegrationChannel

log = logging.getLogger(__name__)

bp = Blueprint("integration_webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)

HANDLERS = {
    IntegrationChannel.CALLS: (calls.CallEventBatch, calls.receive_calls),
    IntegrationChannel.CHAT: (conversations.MessageEventBatch, conversations.receive_messages),
    IntegrationChannel.SOCIAL: (conversations.MessageEventBatch, conversations.receive_messages),
}


def _error(status: int, code: str, message: str, fields: dict | None = None):
    return jsonify({"error": {"code": code, "message": message, "fields": fields or {}}}), status


@bp.post("/calls")
def calls_webhook():
    return _receive(IntegrationChannel.CALLS)


@bp.post("/chat")
def chat_webhook():
    return _receive(IntegrationChannel.CHAT)


@bp.post("/social")
def social_webhook():
    return _receive(IntegrationChannel.SOCIAL)


def _receive(channel: IntegrationChannel):
    limit = current_app.config["WEBHOOK_MAX_BODY"]
    if request.content_length is not None and request.content_length > limit:
        return _error(413, "payload_too_large", f"Bodies are limited to {limit} bytes.")
    request.max_content_length = limit  # a body without Content-Length is cut off here too
    try:
        body = request.get_data(cache=True)
    except RequestEntityTooLarge:
        return _error(413, "payload_too_large", f"Bodies are limited to {limit} bytes.")
    now = utcnow()
    integration = service.find_for_post(request.headers.get(signing.INTEGRATION_HEADER), channel)
    if integration is None:
        log.warning("%s webhook refused: unknown or inactive integration", channel.value)
        abort(401, description=f"{signing.INTEGRATION_HEADER} does not name an active {channel.value} integration.")
    try:
        signing.verify(integration, body, request.headers.get(signing.SIGNATURE_HEADER),
                       request.headers.get(signing.TIMESTAMP_HEADER), now)
    except signing.SignatureRefused as exc:
        log.warning("%s webhook refused for integration %s: %s", channel.value, integration.id, exc)
        abort(401, description=str(exc))
    if not request.is_json:
        return _error(415, "unsupported_media_type", "Send the body as JSON with 'Content-Type: application/json'.")
    schema, handler = HANDLERS[channel]
    try:
        batch = schema.model_validate_json(body)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            return _error(400, "invalid_json", "The body is not valid JSON.")
        return _error(422, "validation_error", "Some fields are missing or wrong.", validation_fields(exc))
    report = handler(integration, batch.events, now)
    return jsonify(WebhookResult(**report.as_dict()).model_dump())


# -- the webhooks in the OpenAPI document, from the same models that validate them ------------------


class WebhookResult(BaseModel):
    applied: int = Field(description="Events that changed a touch now")
    duplicates: int = Field(description="Events seen before: nothing changed")
    pending: int = Field(description="Call events kept until their call's queued event arrives")
    touch_ids: list[int]


SIGNATURE_PARAMETERS = [
    {"name": signing.INTEGRATION_HEADER, "in": "header", "required": True,
     "description": "The integration's id (shown on /admin/integrations)", "schema": {"type": "string"}},
    {"name": signing.TIMESTAMP_HEADER, "in": "header", "required": True,
     "description": f"Unix seconds; refused when more than {signing.MAX_SKEW_SECONDS} s from our clock",
     "schema": {"type": "string"}},
    {"name": signing.SIGNATURE_HEADER, "in": "header", "required": True,
     "description": "hex HMAC-SHA256 of `timestamp + '.' + raw body` with the integration's secret",
     "schema": {"type": "string"}},
]
WEBHOOK_RESPONSES = {401: "Unknown or inactive integration, bad signature, or a timestamp too old or too new",
                     415: "Body is not JSON",
                     422: "Validation failed; `fields` maps each field path (events.0.call_id) to what is wrong"}

for _path, _schema, _what in (("/webhooks/calls", calls.CallEventBatch, "Call events (queued, answered, abandoned, ended)"),
                              ("/webhooks/chat", conversations.MessageEventBatch, "Chat messages"),
                              ("/webhooks/social", conversations.MessageEventBatch, "Social messages")):
    SPECS.append(EndpointSpec(_path, "POST", f"{_what}, signed with the integration's secret", ["webhooks"],
                              body=_schema, query=None, response=WebhookResult, status=200,
                              responses=WEBHOOK_RESPONSES, public=True, headers=SIGNATURE_PARAMETERS))
