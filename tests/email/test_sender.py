"""The sender against a local stand-in for SendGrid, with the real `sendgrid` client sending."""

from __future__ import annotations

import json
import os
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from werkzeug import Response

from crm.db import utcnow
from crm.email import sender
from crm.email.models import EmailStatus, OutboundEmail, Suppression, TemplateKind
from crm.email.outbox import queue_email
from crm.email.sender import CUSTOM_ARG, backoff, claim_batch, drain
from crm.email.service import status_label
from crm.touches.models import Direction, Touch
from tests import factories as f
from tests.email.conftest import MAIL_SEND, accept, sent_bodies, sign_in

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _message(key="m1", kind=TemplateKind.TRANSACTIONAL, body="Line one\nLine two", **kw) -> OutboundEmail:
    rep = kw.pop("rep", None) or f.user()
    lead = f.lead(rep)
    return queue_email(idempotency_key=key, contact=lead.contact, lead=lead, user=rep, kind=kind,
                       subject="Hello {{ contact.first_name }}", body=body, **kw)


def _reload(db_session, message) -> OutboundEmail:
    return db_session.get(OutboundEmail, message.id, populate_existing=True)


def test_202_marks_sent_keeps_message_id_and_logs_outbound_touch(sendgrid, db_session):
    accept(sendgrid, "sg-abc123")
    message = _message()
    report = drain()
    assert report.sent == 1 and len(sendgrid.log) == 1
    request = sendgrid.log[0][0]
    assert request.headers["Authorization"] == "Bearer SG.test-key"
    body = sent_bodies(sendgrid)[0]
    assert body["custom_args"] == {CUSTOM_ARG: str(message.id)}
    assert body["reply_to"]["email"] == message.reply_to and message.reply_to.startswith("reply+")
    assert body["personalizations"][0]["to"] == [{"email": message.to_email}]
    assert body["headers"]["Message-ID"].startswith(f"<touchline.{message.id}.")
    assert "List-Unsubscribe" not in body["headers"]  # transactional
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    message = _reload(db_session, message)
    assert message.status == EmailStatus.SENT and message.provider_message_id == "sg-abc123"
    assert message.attempts == 1 and message.sent_at is not None and message.last_error == ""
    touch = db_session.get(Touch, message.touch_id)
    assert (touch.provider, touch.external_id, touch.direction) == ("sendgrid", str(message.id), Direction.OUTBOUND)
    assert touch.outcome.value == "sent" and touch.contact_id == message.contact_id and touch.lead_id == message.lead_id
    assert touch.user_id == message.user_id and touch.subject == message.subject
    assert drain().handled == 0 and len(sendgrid.log) == 1  # nothing left to send


def test_marketing_mail_has_one_click_unsubscribe_headers_and_link(sendgrid, db_session, app):
    accept(sendgrid)
    message = _message(kind=TemplateKind.MARKETING)
    drain()
    body = sent_bodies(sendgrid)[0]
    link = f"{app.config['PUBLIC_URL']}/unsubscribe/{message.reply_token}"
    assert body["headers"]["List-Unsubscribe"] == f"<{link}>"
    assert body["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = (c["value"] for c in body["content"])
    assert link in text and f'href="{link}"' in html


def test_400_fails_with_sendgrids_message_shown_to_the_rep(sendgrid, db_session, client):
    error = {"errors": [{"message": "The from address does not match a verified Sender Identity.",
                         "field": "from", "help": "https://sendgrid.com/docs/for-developers/sending-email/sender-identity/"}]}
    sendgrid.expect_request(MAIL_SEND, method="POST").respond_with_json(error, status=400)
    rep = f.user()
    message = _message(rep=rep)
    report = drain()
    assert report.failed == 1 and len(sendgrid.log) == 1
    message = _reload(db_session, message)
    assert message.status == EmailStatus.FAILED
    assert message.last_error == "from: The from address does not match a verified Sender Identity."
    assert drain().handled == 0 and len(sendgrid.log) == 1  # a 4xx is not retried
    sign_in(client, rep)
    for page in ("/outbox", f"/leads/{message.lead_id}"):
        html = client.get(page).get_data(as_text=True)
        assert "does not match a verified Sender Identity" in html and "Send again" in html


def test_429_backs_off_then_succeeds(sendgrid, db_session):
    sendgrid.expect_ordered_request(MAIL_SEND, method="POST").respond_with_data(
        '{"errors":[{"message":"too many requests"}]}', status=429)
    sendgrid.expect_ordered_request(MAIL_SEND, method="POST").respond_with_data(
        "", status=202, headers={"X-Message-Id": "later"})
    with time_machine.travel(T0, tick=False) as clock:
        message = _message()
        assert drain().retrying == 1
        message = _reload(db_session, message)
        assert message.status == EmailStatus.QUEUED and message.attempts == 1
        assert message.next_attempt_at == T0 + timedelta(seconds=30)
        assert "SendGrid answered 429: too many requests" in message.last_error
        assert status_label(message) == "retrying (attempt 1 failed)"
        clock.shift(timedelta(seconds=29))
        assert drain().handled == 0 and len(sendgrid.log) == 1  # not due yet
        clock.shift(timedelta(seconds=2))
        assert drain().sent == 1
    message = _reload(db_session, message)
    assert message.status == EmailStatus.SENT and message.attempts == 2 and message.provider_message_id == "later"
    assert len(sendgrid.log) == 2


def test_500_is_retried_with_growing_waits_until_the_limit(sendgrid, db_session, app, monkeypatch):
    monkeypatch.setitem(app.config, "SENDGRID_MAX_ATTEMPTS", 4)
    sendgrid.expect_request(MAIL_SEND, method="POST").respond_with_data("upstream broke", status=500)
    waits = []
    with time_machine.travel(T0, tick=False) as clock:
        message = _message()
        for _attempt in range(3):
            assert drain().retrying == 1
            message = _reload(db_session, message)
            waits.append(message.next_attempt_at - utcnow())
            clock.move_to(message.next_attempt_at)
        assert drain().failed == 1
    message = _reload(db_session, message)
    assert waits == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    assert message.status == EmailStatus.FAILED and message.attempts == 4 and len(sendgrid.log) == 4
    assert message.last_error == "SendGrid answered 500: upstream broke (gave up after 4 attempts)"
    assert drain(T0 + timedelta(days=1)).handled == 0 and len(sendgrid.log) == 4


def test_backoff_is_capped_at_an_hour():
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 8, 20)] == [30, 60, 120, 3600, 3600]


def test_crash_between_sendgrid_call_and_commit_never_sends_twice(sendgrid, db_session, monkeypatch, client):
    """SendGrid accepted it, then the process died before recording that: restarting must not resend."""
    accept(sendgrid, "sg-crash")
    rep = f.user()
    with time_machine.travel(T0 - timedelta(seconds=1), tick=False):
        message = _message(rep=rep)
    real_record = sender.record_answers

    def power_cut(*args, **kwargs):
        raise SystemExit("power cut after SendGrid answered")

    monkeypatch.setattr(sender, "record_answers", power_cut)
    with time_machine.travel(T0, tick=False) as clock, pytest.raises(SystemExit):
        drain()
    db_session.rollback()  # whatever was not committed is gone, as after a crash
    monkeypatch.setattr(sender, "record_answers", real_record)
    assert len(sendgrid.log) == 1
    with time_machine.travel(T0 + timedelta(seconds=5), tick=False) as clock:
        message = _reload(db_session, message)
        assert message.status == EmailStatus.SENDING and message.attempts == 1
        assert drain().handled == 0  # restart: the 'sending' row is not picked up
        clock.shift(timedelta(hours=2))  # long after its lease
        assert drain().handled == 0 and len(sendgrid.log) == 1
        message = _reload(db_session, message)
        assert status_label(message) == "outcome unknown" and message.touch_id is None
        sign_in(client, rep)
        assert "outcome unknown" in client.get("/outbox").get_data(as_text=True)
        # SendGrid's first event for it settles it (see test_event_webhook for the signed path).
        from crm.email.events import apply_events

        apply_events([{"event": "processed", "sg_event_id": "ev-1", "email": message.to_email,
                       "sg_message_id": "sg-crash.filter-1", CUSTOM_ARG: str(message.id), "timestamp": 1795000000}])
        message = _reload(db_session, message)
        assert message.status == EmailStatus.SENT and message.provider_message_id == "sg-crash"
        assert message.touch_id is not None and drain().handled == 0 and len(sendgrid.log) == 1


def test_crash_after_claiming_before_sending_is_claimed_again_after_the_lease(sendgrid, db_session):
    accept(sendgrid)
    with time_machine.travel(T0, tick=False) as clock:
        message = _message()
        batch, _lease = claim_batch(utcnow(), 10, sender.DrainReport())  # then the sender dies: nothing was sent
        assert [c.message.id for c in batch] == [message.id]
        assert drain().handled == 0  # the claim still holds
        clock.shift(timedelta(seconds=sender.CLAIM_SECONDS + 1))
        assert drain().sent == 1
    assert len(sendgrid.log) == 1 and _reload(db_session, message).attempts == 1


def test_a_claim_that_expired_mid_batch_is_not_used(sendgrid, db_session):
    accept(sendgrid)
    with time_machine.travel(T0, tick=False) as clock:
        message = _message()
        report = sender.DrainReport()
        batch, lease = claim_batch(utcnow(), 10, report)
        clock.shift(timedelta(seconds=sender.CLAIM_SECONDS))  # too slow: another sender may own it now
        sender.send_batch(sender._client("SG.test-key"), batch, lease, report)
    assert report.handled == 0 and len(sendgrid.log) == 0
    assert _reload(db_session, message).status == EmailStatus.QUEUED


def test_no_api_key_keeps_messages_as_not_sent_visible_on_the_lead(app, db_session, client):
    assert app.config["SENDGRID_API_KEY"] is None
    rep = f.user()
    message = _message(rep=rep)
    assert drain().not_sent == 1
    message = _reload(db_session, message)
    assert message.status == EmailStatus.NOT_SENT and message.last_error == "not sent (no API key)"
    assert message.touch_id is None
    sign_in(client, rep)
    assert "not sent (no API key)" in client.get(f"/leads/{message.lead_id}").get_data(as_text=True)


def test_unreachable_sendgrid_is_retried_later(app, db_session, monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setitem(app.config, "SENDGRID_API_KEY", "SG.test-key")
    monkeypatch.setitem(app.config, "SENDGRID_API_HOST", f"http://127.0.0.1:{port}")
    message = _message()
    assert drain().retrying == 1
    message = _reload(db_session, message)
    assert message.status == EmailStatus.QUEUED and "Could not reach SendGrid" in message.last_error


def test_no_answer_after_the_request_leaves_the_outcome_unknown(sendgrid, db_session, monkeypatch):
    monkeypatch.setattr(sender, "HTTP_TIMEOUT_SECONDS", 0.3)

    def slow(request):
        time.sleep(1.0)
        return Response("", status=202)

    sendgrid.expect_request(MAIL_SEND, method="POST").respond_with_handler(slow)
    message = _message()
    report = drain()
    assert report.unknown == 1 and "No answer from SendGrid" in report.errors[0]
    message = _reload(db_session, message)
    assert message.status == EmailStatus.SENDING and "not sent again automatically" in message.last_error
    assert drain(utcnow() + timedelta(days=1)).handled == 0
    deadline = time.monotonic() + 5
    while not sendgrid.log and time.monotonic() < deadline:  # the stand-in finishes its slow answer
        time.sleep(0.05)
    assert len(sendgrid.log) == 1


def test_address_suppressed_after_queueing_is_not_sent(sendgrid, db_session):
    accept(sendgrid)
    message = _message()
    db_session.add(Suppression(email=message.to_email, reason="bounce"))
    db_session.flush()
    assert drain().suppressed == 1 and len(sendgrid.log) == 0
    message = _reload(db_session, message)
    assert message.status == EmailStatus.SUPPRESSED and "suppression list" in message.last_error


def test_contact_opted_out_after_queueing_gets_no_marketing(sendgrid, db_session):
    accept(sendgrid)
    message = _message(kind=TemplateKind.MARKETING)
    message_contact = db_session.get(OutboundEmail, message.id).contact_id
    from crm.contacts.models import Contact

    db_session.get(Contact, message_contact).email_opt_out = True
    db_session.flush()
    assert drain().suppressed == 1 and len(sendgrid.log) == 0


def test_drain_limit_and_order(sendgrid, db_session):
    accept(sendgrid)
    with time_machine.travel(T0, tick=False):
        first = _message("a")
        second = _message("b")
        assert drain(limit=1).sent == 1
        assert _reload(db_session, first).status == EmailStatus.SENT
        assert _reload(db_session, second).status == EmailStatus.QUEUED
        assert drain().sent == 1
    ids = [int(b["custom_args"][CUSTOM_ARG]) for b in sent_bodies(sendgrid)]
    assert ids == [first.id, second.id]


def test_message_without_contact_is_sent_without_a_touch(sendgrid, db_session):
    accept(sendgrid)
    message = queue_email(idempotency_key="report:1", to_email="boss@example.org", subject="Weekly", body="Figures")
    assert drain().sent == 1
    assert _reload(db_session, message).touch_id is None
    assert db_session.scalar(select(func.count()).select_from(Touch)) == 0


def test_send_outbox_job_and_cli(sendgrid, db_session, app):
    import jobs.send_outbox as job

    accept(sendgrid)
    _message("j1")
    assert job.NAME == "send-outbox" and job.SCHEDULE == {"trigger": "interval", "seconds": 5}
    assert job.run(utcnow()) == 1
    assert job.run(utcnow()) == 0  # idempotent: nothing queued twice
    _message("j2")
    result = app.test_cli_runner().invoke(args=["crm", "send-outbox"])
    assert result.exit_code == 0, result.output
    assert "sent 1, retrying 0, failed 0" in result.output
    assert len(sendgrid.log) == 2
    assert {json.loads(r.get_data())["custom_args"][CUSTOM_ARG] for r, _ in sendgrid.log} == {
        str(m.id) for m in db_session.scalars(select(OutboundEmail))}


def test_a_crash_mid_batch_leaves_only_the_group_in_flight_unknown(sendgrid, db_session, monkeypatch, app):
    """Groups of 2: the crash comes while recording the first group's answers."""
    monkeypatch.setitem(app.config, "SENDGRID_CONCURRENCY", 2)
    accept(sendgrid)
    real_record = sender.record_answers

    def power_cut(*args, **kwargs):
        raise SystemExit("power cut")

    with time_machine.travel(T0, tick=False) as clock:
        messages = [_message(f"g{n}") for n in range(5)]
        monkeypatch.setattr(sender, "record_answers", power_cut)
        with pytest.raises(SystemExit):
            drain()
        db_session.rollback()
        monkeypatch.setattr(sender, "record_answers", real_record)
        assert len(sendgrid.log) == 2
        states = [_reload(db_session, m).status for m in messages]
        assert states == [EmailStatus.SENDING] * 2 + [EmailStatus.QUEUED] * 3
        assert drain().handled == 0  # the rest are still claimed by the dead sender
        clock.shift(timedelta(seconds=sender.CLAIM_SECONDS + 1))
        assert drain().sent == 3
    assert len(sendgrid.log) == 5
    ids = sorted(int(b["custom_args"][CUSTOM_ARG]) for b in sent_bodies(sendgrid))
    assert ids == sorted(m.id for m in messages)  # each exactly once
    assert [_reload(db_session, m).status for m in messages][:2] == [EmailStatus.SENDING] * 2


@pytest.mark.parametrize("concurrency", [1, 3, 8])
def test_every_message_is_sent_once_whatever_the_concurrency(sendgrid, db_session, monkeypatch, app, concurrency):
    monkeypatch.setitem(app.config, "SENDGRID_CONCURRENCY", concurrency)
    accept(sendgrid)
    messages = [_message(f"c{n}") for n in range(7)]
    assert drain(batch_size=4).sent == 7
    assert sorted(int(b["custom_args"][CUSTOM_ARG]) for b in sent_bodies(sendgrid)) == sorted(m.id for m in messages)
    assert all(_reload(db_session, m).touch_id for m in messages)


def test_a_message_that_cannot_be_built_fails_alone(sendgrid, db_session):
    accept(sendgrid)
    leaky = _message("leak", body="SG.abcdefghijklmnop.qrstuvwxyz0123456789 is my key")  # the helper refuses it
    fine = _message("fine")
    report = drain()
    assert (report.failed, report.sent) == (1, 1) and len(sendgrid.log) == 1
    leaky = _reload(db_session, leaky)
    assert leaky.status == EmailStatus.FAILED and "looks like a SendGrid API key" in leaky.last_error
    assert _reload(db_session, fine).status == EmailStatus.SENT


@pytest.mark.parametrize(("zone", "start"), [
    ("Asia/Tokyo", datetime(2026, 11, 24, 23, 59, 45, tzinfo=UTC)),   # crosses midnight in Tokyo and UTC
    ("Europe/Lisbon", datetime(2026, 10, 25, 0, 59, 45, tzinfo=UTC)),  # Lisbon leaves summer time at 01:00 UTC
    ("Europe/Lisbon", datetime(2026, 3, 29, 0, 59, 45, tzinfo=UTC)),   # and enters it
])
def test_retry_waits_are_absolute_whatever_the_local_zone(sendgrid, db_session, zone, start):
    original = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        sendgrid.expect_ordered_request(MAIL_SEND, method="POST").respond_with_data("busy", status=503)
        sendgrid.expect_ordered_request(MAIL_SEND, method="POST").respond_with_data("", status=202)
        with time_machine.travel(start, tick=False) as clock:
            message = _message()
            assert drain().retrying == 1
            assert _reload(db_session, message).next_attempt_at == start + timedelta(seconds=30)
            clock.shift(timedelta(seconds=29))
            assert drain().handled == 0
            clock.shift(timedelta(seconds=1))
            assert drain().sent == 1
    finally:
        if original is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = original
        time.tzset()
