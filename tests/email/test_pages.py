"""Email pages: templates and suppressions for admins, the outbox, composing on the lead page."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.audit.models import AuditEvent
from crm.auth.models import Role
from crm.email.models import EmailStatus, EmailTemplate, OutboundEmail, Suppression, TemplateKind
from crm.email.outbox import queue_email
from crm.email.sender import drain
from tests import factories as f
from tests.email.conftest import sign_in

TEMPLATE = {"key": "follow_up", "locale": "pt", "name": "Follow-up", "kind": "marketing",
            "subject": "Olá {{ contact.first_name }}", "body": "Falamos em breve.\n{{ rep.name }}\n{{ unsubscribe_url }}",
            "action": "save"}


@pytest.fixture
def admin(client, db_session):
    user = f.user(Role.ADMIN, name="Ada Admin")
    db_session.commit()
    sign_in(client, user)
    return user


def _count(db_session, model, *where) -> int:
    return db_session.scalar(select(func.count()).select_from(model).where(*where))


# --- templates -----------------------------------------------------------------------------------

def test_admin_creates_and_edits_a_template_audited(client, db_session, admin):
    assert client.get("/admin/email-templates").status_code == 200
    resp = client.post("/admin/email-templates/new", data=TEMPLATE)
    assert resp.status_code == 302
    template = db_session.scalar(select(EmailTemplate))
    assert (template.key, template.locale, template.kind) == ("follow_up", "pt", TemplateKind.MARKETING)
    resp = client.post(f"/admin/email-templates/{template.id}", data={**TEMPLATE, "subject": "Bom dia {{ contact.first_name }}"})
    assert resp.status_code == 302
    assert db_session.get(EmailTemplate, template.id, populate_existing=True).subject == "Bom dia {{ contact.first_name }}"
    actions = db_session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "email_templates")).all()
    assert sorted(actions) == ["email_template.created", "email_template.updated"]
    listing = client.get("/admin/email-templates").get_data(as_text=True)
    assert "follow_up" in listing and "Bom dia" in listing


@pytest.mark.parametrize(("field", "value"), [
    ("body", "{{ config }}"), ("body", "{{ contact.__class__.__mro__ }}"), ("subject", "{{ lead.owner.password_hash }}"),
    ("body", "{% for x in range(10**9) %}{% endfor %}{{ cycler.__init__.__globals__ }}"), ("body", "{{ unclosed"),
])
def test_a_template_using_anything_else_fails_with_the_error_beside_the_field(client, db_session, admin, field, value):
    resp = client.post("/admin/email-templates/new", data={**TEMPLATE, field: value})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert f'id="{field}-error"' in html and f'id="{field}" ' in html and "is-invalid" in html
    assert _count(db_session, EmailTemplate) == 0


def test_bad_key_locale_and_duplicates_are_refused_beside_the_field(client, db_session, admin):
    resp = client.post("/admin/email-templates/new", data={**TEMPLATE, "key": "Follow Up!", "locale": "portuguese"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="key-error"' in html and 'id="locale-error"' in html
    assert client.post("/admin/email-templates/new", data=TEMPLATE).status_code == 302
    resp = client.post("/admin/email-templates/new", data=TEMPLATE)
    assert resp.status_code == 422 and "already has a template in this locale" in resp.get_data(as_text=True)
    assert _count(db_session, EmailTemplate) == 1


def test_preview_renders_with_the_sample_contact_and_saves_nothing(client, db_session, admin):
    resp = client.post("/admin/email-templates/new", data={**TEMPLATE, "action": "preview",
                                                            "body": "Hi {{ contact.first_name }} <b>\nbye"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Olá Ana" in html
    assert "Hi Ana &lt;b&gt;<br>" in html  # the body is escaped, not HTML
    assert _count(db_session, EmailTemplate) == 0


@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER, Role.FIELD])
def test_only_admins_reach_templates_and_suppressions(client, db_session, role):
    user = f.user(role)
    row = Suppression(email="x@example.org", reason="bounce")
    db_session.add(row)
    db_session.commit()
    sign_in(client, user)
    for url in ("/admin/email-templates", "/admin/email-templates/new", "/admin/suppressions"):
        assert client.get(url).status_code == 403
    assert client.post("/admin/email-templates/new", data=TEMPLATE).status_code == 403
    assert client.post(f"/admin/suppressions/{row.id}/lift").status_code == 403
    assert db_session.get(Suppression, row.id, populate_existing=True).lifted_at is None


# --- suppressions --------------------------------------------------------------------------------

def test_admin_lifts_a_suppression_audited_and_the_address_can_be_emailed(client, db_session, admin):
    row = Suppression(email="ana@example.pt", reason="bounce")
    db_session.add(row)
    db_session.commit()
    page = client.get("/admin/suppressions?q=ana").get_data(as_text=True)
    assert "ana@example.pt" in page and "Lift" in page
    assert client.post(f"/admin/suppressions/{row.id}/lift").status_code == 302
    row = db_session.get(Suppression, row.id, populate_existing=True)
    assert row.lifted_at is not None and row.lifted_by_id == admin.id
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "suppression.lifted"))
    assert event.actor_id == admin.id and event.changes["email"] == "ana@example.pt"
    assert queue_email(idempotency_key="ok", to_email="ana@example.pt", subject="s", body="b").id
    assert "lifted by Ada Admin" in client.get("/admin/suppressions").get_data(as_text=True)
    resp = client.post(f"/admin/suppressions/{row.id}/lift")  # twice: a clear message, nothing changes
    assert resp.status_code == 302
    assert _count(db_session, AuditEvent, AuditEvent.action == "suppression.lifted") == 1


def test_a_new_bounce_after_a_lift_suppresses_again(db_session):
    from crm.email.service import suppress

    row = suppress("Ana@Example.pt", "bounce")
    row.lifted_at = row.created_at
    again = suppress("ana@example.pt", "spamreport")
    assert again.id == row.id and again.lifted_at is None and again.reason == "spamreport"
    assert suppress("not an address", "bounce") is None


# --- compose on the lead page, the outbox --------------------------------------------------------

@pytest.fixture
def rep_lead(client, db_session):
    rep = f.user(name="Rita Reis")
    lead = f.lead(rep, contact_obj=f.contact(first_name="Ana", email="ana@example.pt"))
    db_session.add(EmailTemplate(key="intro", locale="en", subject="Hi {{ contact.first_name }}", body="From {{ rep.name }}",
                                 kind=TemplateKind.TRANSACTIONAL))
    db_session.commit()
    sign_in(client, rep)
    return rep, lead


def test_rep_composes_an_email_that_is_queued_once(client, db_session, rep_lead):
    rep, lead = rep_lead
    page = client.get(f"/leads/{lead.id}").get_data(as_text=True)
    assert 'data-testid="email-panel"' in page and "Queue email" in page
    data = {"nonce": "nonce-12345678", "template": "", "subject": "Meeting {{ contact.first_name }}", "body": "Tomorrow?"}
    assert client.post(f"/leads/{lead.id}/emails", data=data).status_code == 302
    assert client.post(f"/leads/{lead.id}/emails", data=data).status_code == 302  # double submit
    message = db_session.scalar(select(OutboundEmail))
    assert _count(db_session, OutboundEmail) == 1
    assert (message.subject, message.user_id, message.lead_id, message.status) == (
        "Meeting Ana", rep.id, lead.id, EmailStatus.QUEUED)
    assert "Meeting Ana" in client.get(f"/leads/{lead.id}").get_data(as_text=True)


def test_rep_composes_from_a_template(client, db_session, rep_lead):
    _rep, lead = rep_lead
    resp = client.post(f"/leads/{lead.id}/emails", data={"nonce": "nonce-abcdefgh", "template": "intro"})
    assert resp.status_code == 302
    message = db_session.scalar(select(OutboundEmail))
    assert (message.subject, message.body_text, message.template_key) == ("Hi Ana", "From Rita Reis", "intro")


@pytest.mark.parametrize(("data", "field", "text"), [
    ({"subject": "", "body": "x"}, "subject", "Write a subject"),
    ({"subject": "x", "body": ""}, "body", "Write a message"),
    ({"subject": "{{ config }}", "body": "x"}, "subject", "&#39;config&#39; is undefined"),
    ({"template": "missing"}, "template", "no email template"),
])
def test_bad_compose_input_shows_beside_the_field(client, db_session, rep_lead, data, field, text):
    _rep, lead = rep_lead
    resp = client.post(f"/leads/{lead.id}/emails", data={"nonce": "nonce-12345678", **data})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and f'id="{field}-error"' in html and text in html
    assert _count(db_session, OutboundEmail) == 0


def test_composing_to_a_suppressed_address_is_refused(client, db_session, rep_lead):
    _rep, lead = rep_lead
    db_session.add(Suppression(email="ana@example.pt", reason="bounce"))
    db_session.commit()
    resp = client.post(f"/leads/{lead.id}/emails", data={"nonce": "nonce-12345678", "subject": "s", "body": "b"})
    assert resp.status_code == 422 and "suppression list" in resp.get_data(as_text=True)
    assert _count(db_session, OutboundEmail) == 0


def test_another_reps_lead_answers_404(client, db_session, rep_lead):
    other_lead = f.lead(f.user())
    db_session.commit()
    resp = client.post(f"/leads/{other_lead.id}/emails", data={"nonce": "nonce-12345678", "subject": "s", "body": "b"})
    assert resp.status_code == 404 and _count(db_session, OutboundEmail) == 0


def test_outbox_shows_my_messages_only_and_sends_again(client, db_session, rep_lead, app, monkeypatch):
    rep, lead = rep_lead
    mine = queue_email(idempotency_key="mine", contact=lead.contact, lead=lead, user=rep, subject="Mine", body="b")
    theirs = queue_email(idempotency_key="theirs", contact=f.contact(), lead=None, user=f.user(), subject="Theirs", body="b")
    drain()  # no API key: both become "not sent (no API key)"
    db_session.commit()
    page = client.get("/outbox").get_data(as_text=True)
    assert "Mine" in page and "Theirs" not in page and "not sent (no API key)" in page
    assert "Mine" in client.get("/outbox?status=problems").get_data(as_text=True)
    assert "Mine" not in client.get("/outbox?status=sent").get_data(as_text=True)
    assert client.post(f"/outbox/{theirs.id}/send-again").status_code == 404
    resp = client.post(f"/outbox/{mine.id}/send-again", data={"next": f"/leads/{lead.id}"})
    assert resp.status_code == 302 and resp.headers["Location"] == f"/leads/{lead.id}"
    mine = db_session.get(OutboundEmail, mine.id, populate_existing=True)
    assert mine.status == EmailStatus.QUEUED and mine.last_error == ""
    assert _count(db_session, AuditEvent, AuditEvent.action == "outbound_email.send_again") == 1
    client.post(f"/outbox/{mine.id}/send-again")  # a queued one cannot be "sent again": a message, no change
    assert _count(db_session, AuditEvent, AuditEvent.action == "outbound_email.send_again") == 1


def test_send_again_refuses_a_now_suppressed_address(client, db_session, rep_lead):
    rep, lead = rep_lead
    message = queue_email(idempotency_key="x", contact=lead.contact, lead=lead, user=rep, subject="S", body="b")
    drain()
    db_session.add(Suppression(email="ana@example.pt", reason="bounce"))
    db_session.commit()
    client.post(f"/outbox/{message.id}/send-again")
    assert db_session.get(OutboundEmail, message.id, populate_existing=True).status == EmailStatus.NOT_SENT


def test_navigation_offers_outbox_to_reps_and_email_to_admins(client, db_session):
    rep = f.user()
    admin = f.user(Role.ADMIN)
    db_session.commit()
    sign_in(client, rep)
    assert 'href="/outbox"' in client.get("/").get_data(as_text=True)
    client.post("/logout")
    sign_in(client, admin)
    assert 'href="/admin/email-templates"' in client.get("/").get_data(as_text=True)
