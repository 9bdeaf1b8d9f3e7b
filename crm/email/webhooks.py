"""SendGrid's calls to us: the signed Event Webhook and Inbound Parse. No sign-in, no CSRF.

Both answer JSON; the request commits once (crm/web.py) when the answer is below 400,
so a refused call changes nothing.
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, abort, current_app, jsonify, request

from crm.email import events, inbound
from crm.extensions import csrf

log = logging.getLogger(__name__)

bp = Blueprint("email_webhooks", __name__, url_prefix="/webhooks/sendgrid")
csrf.exempt(bp)

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


@bp.post("/events")
def sendgrid_events():
    """Signed delivery events. The signature is checked on the raw body before anything reads it."""
    body = request.get_data(cache=True)
    try:
        payload = events.verify_signature(body, request.headers.get(SIGNATURE_HEADER),
                                          request.headers.get(TIMESTAMP_HEADER))
    except events.SignatureRefused as exc:
        log.warning("SendGrid event webhook refused: %s", exc)
        abort(403, description="The event webhook signature is missing or does not verify.")
    try:
        batch = events.parse_events(payload)
    except events.BadEvents as exc:
        abort(400, description=str(exc))
    report = events.apply_events(batch)
    return jsonify({"applied": report.applied, "duplicates": report.duplicates, "unmatched": report.unmatched})


@bp.post("/inbound")
def sendgrid_inbound():
    """An email received through Inbound Parse, protected by INBOUND_PARSE_TOKEN (query or basic auth)."""
    if not _inbound_token_ok():
        abort(403, description="Wrong or missing inbound parse token.")
    fields, files = inbound.read_form(request.get_data(cache=True), request.headers.get("Content-Type", ""))
    result = inbound.receive(inbound.parse_inbound(fields, files))
    return jsonify({"duplicate": result.duplicate, "touch_id": result.touch_id, "contact_id": result.contact_id,
                    "lead_id": result.lead_id, "threaded_to": result.threaded_to, "created_lead": result.created_lead,
                    "task_id": result.task_id})


def _inbound_token_ok() -> bool:
    expected = current_app.config.get("INBOUND_PARSE_TOKEN")
    if not expected:
        log.warning("INBOUND_PARSE_TOKEN is not set; refusing Inbound Parse posts")
        return False
    given = request.args.get("token")
    if given is None and request.authorization is not None:
        given = request.authorization.password or request.authorization.username
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
