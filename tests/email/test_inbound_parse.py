"""POST /webhooks/sendgrid/inbound: SendGrid's multipart form, in UTF-8 and in other charsets."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from crm.cadences.models import Cadence, CadenceEnrollment, EnrollmentState
from crm.contacts.models import Contact
from crm.email.inbound import decode_field
from crm.email.models import OutboundEmail
from crm.email.outbox import queue_email
from crm.integrations.models import InboundEvent
from crm.leads.models import Lead, Stage
from crm.tasks.models import Task
from crm.touches.models import Direction, Touch
from tests import factories as f
from tests.email.conftest import sign_in

URL = "/webhooks/sendgrid/inbound?token=inbound-test-token"
BOUNDARY = "xYzZY"  # the boundary SendGrid's Inbound Parse uses
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8


def sendgrid_form(*, sender: str, to: str, subject: str, text: str, html: str = "", charset: str = "UTF-8",
                  message_id: str = "<CAF=abc123@mail.example.org>", in_reply_to: str | None = None,
                  references: str | None = None, attachments: list[tuple[str, str, bytes]] = ()) -> bytes:
    """A multipart body shaped like SendGrid's default (not raw) Inbound Parse post."""
    headers = [
        "Received: by mx0047p1mdw1.sendgrid.net with SMTP id 6WCVv7KAWn Wed, 25 Nov 2026 10:53:06 +0000 (UTC)",
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=mail.example.org; s=20161025",
        "MIME-Version: 1.0", f"From: {sender}", f"To: {to}", f"Subject: {subject}", f"Message-ID: {message_id}",
        "Date: Wed, 25 Nov 2026 10:52:51 +0000", 'Content-Type: multipart/alternative; boundary="001a113df448cad2d00538b1f9b3"',
    ]
    if in_reply_to:
        headers.append(f"In-Reply-To: {in_reply_to}")
    if references:
        headers.append(f"References: {references}")
    info = {f"attachment{i}": {"filename": name, "name": name, "type": ctype}
            for i, (name, ctype, _data) in enumerate(attachments, 1)}
    fields: list[tuple[str, bytes]] = [
        ("headers", "\n".join(headers).encode("utf-8")),
        ("dkim", b"{@mail.example.org : pass}"),
        ("to", to.encode(charset)),
        ("html", html.encode(charset)),
        ("from", sender.encode(charset)),
        ("text", text.encode(charset)),
        ("sender_ip", b"209.85.223.178"),
        ("spam_report", b"Spam detection software, running on the system \"mx0047p1mdw1.sendgrid.net\""),
        ("envelope", json.dumps({"to": [to.split("<")[-1].rstrip(">")], "from": "bounce@mail.example.org"}).encode()),
        ("attachments", str(len(attachments)).encode()),
        ("subject", subject.encode(charset)),
        ("spam_score", b"0.011"),
        ("attachment-info", json.dumps(info).encode()),
        ("charsets", json.dumps({"to": "UTF-8", "html": charset, "subject": charset, "from": charset,
                                 "text": charset}).encode()),
        ("SPF", b"pass"),
    ]
    out = b""
    for name, value in fields:
        out += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
    for i, (name, ctype, data) in enumerate(attachments, 1):
        out += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="attachment{i}"; filename="{name}"\r\n'
                f"Content-Type: {ctype}\r\n\r\n").encode() + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def post(client, body: bytes, url: str = URL, **kw):
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={BOUNDARY}", **kw)


@pytest.fixture
def conversation(db_session):
    """A rep's lead in an active cadence, and an email we sent to it."""
    rep = f.user(name="Rita Reis")
    contact = f.contact(first_name="Ana", last_name="Sousa", email="ana.sousa@example.pt")
    lead = f.lead(rep, contact_obj=contact)
    cadence = Cadence(name="Default")
    db_session.add(cadence)
    db_session.flush()
    db_session.add(CadenceEnrollment(lead_id=lead.id, cadence_id=cadence.id, started_at=datetime(2026, 11, 20, tzinfo=UTC),
                                     next_step_at=datetime(2026, 11, 26, tzinfo=UTC)))
    message = queue_email(idempotency_key="first", contact=contact, lead=lead, user=rep, subject="Our offer",
                          body="Hello Ana")
    db_session.commit()  # kept (inside the test's outer transaction) when a refused request rolls back
    return rep, contact, lead, message


def test_a_reply_in_utf8_lands_on_the_contact_threaded_to_the_lead(client, db_session, conversation):
    rep, contact, lead, message = conversation
    body = sendgrid_form(
        sender="Ana Sousa <ana.sousa@example.pt>", to=message.reply_to, subject="Re: Our offer — orçamento",
        text="Olá Rita,\nSim, podemos falar amanhã às 10h. Obrigada!\n\n> Hello Ana",
        html="<div>Olá Rita,<br>Sim, <b>podemos</b> falar amanhã às 10h.<script>alert(1)</script>"
             '<img src="https://tracker.example/p.gif"><a href="javascript:alert(2)">x</a></div>',
        attachments=[("proposta orçamento.pdf", "application/pdf", PDF), ("logo.png", "image/png", b"\x89PNG\r\n\x1a\n")])
    resp = post(client, body)
    assert resp.status_code == 200, resp.get_json()
    result = resp.get_json()
    assert result["duplicate"] is False and result["threaded_to"] == message.id and result["created_lead"] is False
    touch = db_session.get(Touch, result["touch_id"])
    assert (touch.contact_id, touch.lead_id, touch.direction) == (contact.id, lead.id, Direction.INBOUND)
    assert touch.outcome.value == "replied" and touch.channel.value == "email"
    assert touch.subject == "Re: Our offer — orçamento"
    assert touch.body.startswith("Olá Rita,\nSim, podemos falar amanhã às 10h.")
    assert "Attachments: proposta orçamento.pdf (application/pdf, 2.0 KB); logo.png (image/png, 8 B)" in touch.body
    enrollment = db_session.scalar(select(CadenceEnrollment).where(CadenceEnrollment.lead_id == lead.id))
    assert enrollment.state == EnrollmentState.STOPPED and enrollment.ended_reason == "replied"
    task = db_session.get(Task, result["task_id"])
    assert task.assignee_id == rep.id and task.lead_id == lead.id and task.origin == "inbound_reply"
    assert task.title.startswith("Reply from Ana Sousa: Re: Our offer") and task.dedupe_key.startswith("inbound-email:")
    stored = db_session.scalar(select(InboundEvent).where(InboundEvent.source == "sendgrid-inbound"))
    html = stored.payload["html"]
    assert "<b>podemos</b>" in html and "script" not in html and "alert" not in html and "tracker" not in html
    assert [(a["filename"], a["content_type"], a["size"]) for a in stored.payload["attachments"]] == [
        ("proposta orçamento.pdf", "application/pdf", len(PDF)), ("logo.png", "image/png", 8)]


def test_a_redelivered_post_changes_nothing(client, db_session, conversation):
    _rep, _contact, _lead, message = conversation
    body = sendgrid_form(sender="ana.sousa@example.pt", to=message.reply_to, subject="Re: Our offer", text="Yes")
    assert post(client, body).get_json()["duplicate"] is False
    again = post(client, body)
    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    assert db_session.scalar(select(func.count()).select_from(Touch).where(Touch.direction == Direction.INBOUND)) == 1
    assert db_session.scalar(select(func.count()).select_from(Task)) == 1


@pytest.mark.parametrize(("charset", "sender", "subject", "text"), [
    ("windows-1251", "Иван Петров <ivan@example.ru>", "Re: Наше предложение", "Здравствуйте! Да, давайте созвонимся в четверг."),
    ("ISO-8859-1", "François Lefèvre <francois@example.fr>", "Re: Notre offre",
     "Très intéressé, à jeudi. Cordialement, François"),
])
def test_other_charsets_are_decoded_as_declared(client, db_session, charset, sender, subject, text):
    body = sendgrid_form(sender=sender, to="sales@reply.touchline.example", subject=subject, text=text,
                         html=f"<p>{text}</p>", charset=charset)
    assert text.encode(charset) in body and text.encode("utf-8") not in body  # really not UTF-8 on the wire
    resp = post(client, body)
    assert resp.status_code == 200, resp.get_json()
    touch = db_session.get(Touch, resp.get_json()["touch_id"])
    assert touch.subject == subject and touch.body == text
    contact = db_session.get(Contact, touch.contact_id)
    assert contact.full_name == sender.split(" <")[0]


def test_an_unknown_sender_becomes_a_new_lead_in_discover(client, db_session):
    body = sendgrid_form(sender="Maria Costa <maria.costa@example.com>", to="sales@reply.touchline.example",
                         subject="Pricing question", text="How much for 20 seats?")
    resp = post(client, body)
    result = resp.get_json()
    assert resp.status_code == 200 and result["created_lead"] is True and result["threaded_to"] is None
    lead = db_session.get(Lead, result["lead_id"])
    assert lead.stage == Stage.DISCOVER and lead.source.name == "inbound email"
    assert (lead.contact.first_name, lead.contact.last_name, lead.contact.email) == ("Maria", "Costa", "maria.costa@example.com")
    touch = db_session.get(Touch, result["touch_id"])
    assert touch.outcome.value == "received" and touch.lead_id == lead.id
    assert db_session.get(Task, result["task_id"]).title == "New email from Maria Costa: Pricing question"


def test_a_known_sender_without_reply_token_goes_to_their_open_lead(client, db_session, conversation):
    _rep, contact, lead, _message = conversation
    body = sendgrid_form(sender="ANA.SOUSA@example.pt", to="sales@reply.touchline.example", subject="Another thing",
                         text="One more question")
    result = post(client, body).get_json()
    assert result["contact_id"] == contact.id and result["lead_id"] == lead.id and result["threaded_to"] is None
    assert db_session.scalar(select(func.count()).select_from(Lead)) == 1


def test_in_reply_to_our_message_id_threads_without_the_token(client, db_session, conversation, app):
    _rep, contact, lead, message = conversation
    our_id = f"<touchline.{message.id}.{message.reply_token}@{app.config['INBOUND_REPLY_DOMAIN']}>"
    body = sendgrid_form(sender="Ana <ana.private@example.net>", to="sales@touchline.example", subject="Re: Our offer",
                         text="From my other address", in_reply_to=our_id)
    result = post(client, body).get_json()
    assert result["threaded_to"] == message.id and result["contact_id"] == contact.id and result["lead_id"] == lead.id


def test_references_with_sendgrids_message_id_thread_too(client, db_session, conversation):
    _rep, _contact, lead, message = conversation
    message.provider_message_id = "LRzXl_NHStOGhQ4kofSm_A"
    db_session.flush()
    body = sendgrid_form(sender="ana.sousa@example.pt", to="sales@touchline.example", subject="Re: Our offer", text="ok",
                         references="<older@x.example> <LRzXl_NHStOGhQ4kofSm_A.filterdrecv-1@ismtpd0039p1iad1.sendgrid.net>")
    assert post(client, body).get_json()["threaded_to"] == message.id


@pytest.mark.parametrize("url", [
    "/webhooks/sendgrid/inbound", "/webhooks/sendgrid/inbound?token=wrong", "/webhooks/sendgrid/inbound?token=",
])
def test_a_wrong_or_missing_token_is_refused(client, db_session, url):
    body = sendgrid_form(sender="x@example.com", to="a@b.example", subject="s", text="t")
    assert post(client, body, url=url).status_code == 403
    assert db_session.scalar(select(func.count()).select_from(Touch)) == 0


def test_the_token_may_come_as_basic_auth(client, db_session):
    body = sendgrid_form(sender="x@example.com", to="a@b.example", subject="s", text="t")
    good = base64.b64encode(b"sendgrid:inbound-test-token").decode()
    bad = base64.b64encode(b"sendgrid:nope").decode()
    assert post(client, body, url="/webhooks/sendgrid/inbound", headers={"Authorization": f"Basic {bad}"}).status_code == 403
    assert post(client, body, url="/webhooks/sendgrid/inbound", headers={"Authorization": f"Basic {good}"}).status_code == 200


def test_no_configured_token_refuses_everything(client, db_session, app, monkeypatch):
    monkeypatch.setitem(app.config, "INBOUND_PARSE_TOKEN", None)
    body = sendgrid_form(sender="x@example.com", to="a@b.example", subject="s", text="t")
    assert post(client, body, url="/webhooks/sendgrid/inbound?token=").status_code == 403


def test_a_post_that_is_not_multipart_or_has_no_sender_is_refused(client, db_session):
    resp = client.post(URL, data=b"{}", content_type="application/json")
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "validation_error"
    body = sendgrid_form(sender="no address here", to="a@b.example", subject="s", text="t")
    resp = post(client, body)
    assert resp.status_code == 422 and resp.get_json()["error"]["fields"] == {"from": "No address."}
    assert db_session.scalar(select(func.count()).select_from(Touch)) == 0


def test_html_only_mail_gets_readable_text(client, db_session):
    body = sendgrid_form(sender="x@example.com", to="a@b.example", subject="s", text="",
                         html="<html><head><style>p{}</style></head><body><p>First</p><p>Second &amp; last</p></body></html>")
    touch = db_session.get(Touch, post(client, body).get_json()["touch_id"])
    assert touch.body == "First\nSecond & last"


def test_the_received_page_shows_sanitised_html_and_attachments(client, db_session, conversation):
    rep, _contact, _lead, message = conversation
    body = sendgrid_form(sender="ana.sousa@example.pt", to=message.reply_to, subject="Re: Our offer",
                         text="plain", html='<p onclick="x()">Hi <a href="https://example.pt/doc">doc</a></p><script>bad()</script>',
                         attachments=[("quote.pdf", "application/pdf", PDF)])
    touch_id = post(client, body).get_json()["touch_id"]
    sign_in(client, rep)
    page = client.get(f"/leads/{message.lead_id}").get_data(as_text=True)
    assert f"/emails/received/{touch_id}" in page
    html = client.get(f"/emails/received/{touch_id}").get_data(as_text=True)
    html = html[html.index('<main'):html.index("</main>")]
    assert '<p>Hi <a href="https://example.pt/doc" rel="nofollow noopener noreferrer" target="_blank">doc</a></p>' in html
    assert "bad()" not in html and "onclick" not in html and f"quote.pdf · application/pdf · {len(PDF)} bytes" in html
    other = f.user()
    client.post("/logout")
    sign_in(client, other)
    assert client.get(f"/emails/received/{touch_id}").status_code == 404


def test_decode_field_falls_back_when_the_charset_lies():
    assert decode_field("Olá".encode(), "no-such-charset") == "Olá"
    assert decode_field("Olá".encode("latin-1"), "utf-8") == "Olá"
    assert decode_field("Привет".encode("koi8-r"), "koi8-r") == "Привет"


def test_messages_are_matched_by_token_case_insensitively(db_session, conversation):
    from crm.email.service import find_by_token

    _rep, _contact, _lead, message = conversation
    assert find_by_token(message.reply_token.lower()).id == message.id
    assert find_by_token("x" * 65) is None and find_by_token("") is None
    assert db_session.get(OutboundEmail, message.id) is not None
