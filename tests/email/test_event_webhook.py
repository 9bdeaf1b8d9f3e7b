"""POST /webhooks/sendgrid/events: signature first (SendGrid's own test vector), then events applied once."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from crm.contacts.models import Contact
from crm.email.models import EmailStatus, OutboundEmail, Suppression
from crm.email.outbox import queue_email
from crm.email.sender import CUSTOM_ARG, drain
from crm.integrations.models import InboundEvent
from crm.touches.models import Touch
from tests import factories as f
from tests.email.conftest import accept

URL = "/webhooks/sendgrid/events"
SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"

# SendGrid's published test vector: sendgrid/sendgrid-python, test/unit/test_eventwebhook.py.
SG_PUBLIC_KEY = ("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaI"
                 "NXvVpiglSI8eNEc6wEA3F+g==")
SG_SIGNATURE = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
SG_TIMESTAMP = "1600112502"
SG_PAYLOAD = json.dumps([{
    "email": "hello@world.com", "event": "dropped", "reason": "Bounced Address",
    "sg_event_id": "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
    "sg_message_id": "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
    "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>", "timestamp": 1600112492,
}], sort_keys=True, separators=(",", ":")) + "\r\n"
# The "bad key" from the same test file: a valid P-256 key that did not sign the vector.
OTHER_KEY = ("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+y7"
             "GjUuFDb/R1NGe1OPzpA==")


def _counts(db_session) -> tuple[int, int]:
    return (db_session.scalar(select(func.count()).select_from(Suppression)),
            db_session.scalar(select(func.count()).select_from(InboundEvent)))


@pytest.fixture
def official_key(app, monkeypatch):
    monkeypatch.setitem(app.config, "SENDGRID_WEBHOOK_PUBLIC_KEY", SG_PUBLIC_KEY)


def _post_vector(client, body=SG_PAYLOAD, signature=SG_SIGNATURE, timestamp=SG_TIMESTAMP):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[SIGNATURE] = signature
    if timestamp is not None:
        headers[TIMESTAMP] = timestamp
    return client.post(URL, data=body.encode() if isinstance(body, str) else body, headers=headers)


def test_sendgrids_published_vector_verifies_and_its_drop_suppresses_the_address(client, db_session, official_key):
    resp = _post_vector(client)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"applied": 1, "duplicates": 0, "unmatched": 1}
    suppression = db_session.scalar(select(Suppression).where(Suppression.email == "hello@world.com"))
    assert suppression is not None and suppression.reason == "dropped"
    stored = db_session.scalar(select(InboundEvent).where(InboundEvent.source == "sendgrid"))
    assert stored.event_id == "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA" and stored.processed_at


def test_a_repeated_sg_event_id_is_ignored(client, db_session, official_key):
    assert _post_vector(client).status_code == 200
    again = _post_vector(client)
    assert again.status_code == 200 and again.get_json() == {"applied": 0, "duplicates": 1, "unmatched": 0}
    assert _counts(db_session) == (1, 1)


@pytest.mark.parametrize("change", [
    pytest.param(lambda b: b.replace("hello@world.com", "hello@world.org"), id="other-address"),
    pytest.param(lambda b: b.rstrip("\r\n"), id="trailing-newline-dropped"),
    pytest.param(lambda b: b.replace('"dropped"', '"delivered"'), id="other-event"),
])
def test_a_tampered_body_is_refused_and_changes_nothing(client, db_session, official_key, change):
    resp = _post_vector(client, body=change(SG_PAYLOAD))
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
    assert _counts(db_session) == (0, 0)


def test_the_wrong_public_key_is_refused(client, db_session, app, monkeypatch):
    monkeypatch.setitem(app.config, "SENDGRID_WEBHOOK_PUBLIC_KEY", OTHER_KEY)
    assert _post_vector(client).status_code == 403
    assert _counts(db_session) == (0, 0)


@pytest.mark.parametrize(("signature", "timestamp"), [
    (None, SG_TIMESTAMP), (SG_SIGNATURE, None), (None, None), ("", SG_TIMESTAMP),
    ("not base64 at all!", SG_TIMESTAMP), (SG_SIGNATURE, "1600112503"), (SG_SIGNATURE, "timestamp"),
])
def test_missing_or_wrong_headers_are_refused(client, db_session, official_key, signature, timestamp):
    assert _post_vector(client, signature=signature, timestamp=timestamp).status_code == 403
    assert _counts(db_session) == (0, 0)


def test_without_a_configured_key_every_post_is_refused(client, db_session, app):
    assert app.config.get("SENDGRID_WEBHOOK_PUBLIC_KEY") is None
    assert _post_vector(client).status_code == 403
    assert _counts(db_session) == (0, 0)


def test_an_unreadable_configured_key_is_refused_not_crashed(client, db_session, app, monkeypatch):
    monkeypatch.setitem(app.config, "SENDGRID_WEBHOOK_PUBLIC_KEY", "not-a-key")
    assert _post_vector(client).status_code == 403


def test_max_age_refuses_old_signatures_and_accepts_fresh_ones(client, db_session, app, official_key, monkeypatch):
    monkeypatch.setitem(app.config, "SENDGRID_WEBHOOK_MAX_AGE", 300)
    signed = datetime.fromtimestamp(int(SG_TIMESTAMP), UTC)
    with time_machine.travel(signed + timedelta(seconds=301), tick=False):
        assert _post_vector(client).status_code == 403
        assert _counts(db_session) == (0, 0)
    with time_machine.travel(signed - timedelta(seconds=301), tick=False):  # from the future: refused too
        assert _post_vector(client).status_code == 403
    with time_machine.travel(signed + timedelta(seconds=120), tick=False):
        assert _post_vector(client).status_code == 200


# --- events applied (signed here with our own P-256 key, as SendGrid signs) ------------------------

@pytest.fixture
def signer(app, monkeypatch):
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    monkeypatch.setitem(app.config, "SENDGRID_WEBHOOK_PUBLIC_KEY", base64.b64encode(public).decode())

    def post(client, events, timestamp="1795000000"):
        body = json.dumps(events) + "\r\n"
        signature = base64.b64encode(private.sign((timestamp + body).encode(), ec.ECDSA(hashes.SHA256()))).decode()
        return client.post(URL, data=body.encode(), headers={SIGNATURE: signature, TIMESTAMP: timestamp,
                                                             "Content-Type": "application/json"})

    return post


def _sent_message(sendgrid, db_session, key="e1", **kw) -> OutboundEmail:
    accept(sendgrid, "sgid42")
    rep = f.user()
    lead = f.lead(rep)
    message = queue_email(idempotency_key=key, contact=lead.contact, lead=lead, user=rep, subject="Offer",
                          body="Hello", **kw)
    assert drain().sent == 1
    return db_session.get(OutboundEmail, message.id, populate_existing=True)


def _event(message, kind, n, **extra):
    return {"email": message.to_email, "event": kind, "sg_event_id": f"ev-{kind}-{n}", "timestamp": 1795000000 + n,
            "sg_message_id": f"sgid42.filterdrecv-{n}", CUSTOM_ARG: str(message.id), **extra}


def test_events_move_the_message_and_its_touch_forward_only(client, db_session, sendgrid, signer):
    message = _sent_message(sendgrid, db_session)
    events = [_event(message, k, n) for n, k in enumerate(["processed", "delivered", "open", "click"])]
    events.append(_event(message, "open", 9))  # a later open must not undo the click
    resp = signer(client, events)
    assert resp.status_code == 200 and resp.get_json()["applied"] == 5
    message = db_session.get(OutboundEmail, message.id, populate_existing=True)
    assert message.status == EmailStatus.CLICKED
    assert db_session.get(Touch, message.touch_id).outcome.value == "clicked"


def test_events_find_the_message_by_sendgrid_id_without_custom_args(client, db_session, sendgrid, signer):
    message = _sent_message(sendgrid, db_session)
    event = _event(message, "delivered", 1)
    del event[CUSTOM_ARG]
    assert signer(client, [event]).get_json() == {"applied": 1, "duplicates": 0, "unmatched": 0}
    assert db_session.get(OutboundEmail, message.id, populate_existing=True).status == EmailStatus.DELIVERED


@pytest.mark.parametrize(("kind", "status", "opted_out"), [
    ("bounce", EmailStatus.BOUNCED, False), ("dropped", EmailStatus.DROPPED, False),
    ("spamreport", EmailStatus.SPAM, True), ("unsubscribe", EmailStatus.UNSUBSCRIBED, True),
    ("group_unsubscribe", EmailStatus.UNSUBSCRIBED, True),
])
def test_bad_news_suppresses_the_address(client, db_session, sendgrid, signer, kind, status, opted_out):
    message = _sent_message(sendgrid, db_session)
    resp = signer(client, [_event(message, "delivered", 1), _event(message, kind, 2, reason="550 5.1.1 no such user")])
    assert resp.status_code == 200
    message = db_session.get(OutboundEmail, message.id, populate_existing=True)
    assert message.status == status
    assert db_session.get(Touch, message.touch_id).outcome.value == status.value
    row = db_session.scalar(select(Suppression).where(Suppression.email == message.to_email))
    assert row is not None and row.reason == kind and row.lifted_at is None
    assert db_session.get(Contact, message.contact_id).email_opt_out is opted_out
    from crm.email.outbox import EmailBlocked

    with pytest.raises(EmailBlocked):
        queue_email(idempotency_key="again", to_email=message.to_email, subject="x", body="y")


def test_deferred_keeps_the_reason(client, db_session, sendgrid, signer):
    message = _sent_message(sendgrid, db_session)
    signer(client, [_event(message, "deferred", 1, response="421 try again later", attempt="1")])
    message = db_session.get(OutboundEmail, message.id, populate_existing=True)
    assert message.status == EmailStatus.DEFERRED and message.last_error == "421 try again later"


def test_signed_but_not_json_is_a_400_and_changes_nothing(client, db_session, app, monkeypatch):
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    monkeypatch.setitem(app.config, "SENDGRID_WEBHOOK_PUBLIC_KEY", base64.b64encode(public).decode())
    for body in ("{not json", "[1, 2]", '"text"'):
        signature = base64.b64encode(private.sign(("1" + body).encode(), ec.ECDSA(hashes.SHA256()))).decode()
        resp = client.post(URL, data=body, headers={SIGNATURE: signature, TIMESTAMP: "1"})
        assert resp.status_code == 400
    assert _counts(db_session) == (0, 0)
