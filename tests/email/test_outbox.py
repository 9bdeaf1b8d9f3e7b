from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.email.models import EmailTemplate, OutboundEmail, Suppression, TemplateKind
from crm.email.outbox import EmailBlocked, queue_email
from crm.email.rendering import check_template
from crm.errors import NotFound, ValidationFailed
from tests import factories as f


def test_same_key_queues_one_message(db_session):
    c = f.contact(first_name="Ana")
    a = queue_email(idempotency_key="k1", contact=c, subject="Hi {{ contact.first_name }}", body="Hello")
    b = queue_email(idempotency_key="k1", contact=c, subject="Other", body="Other")
    assert a.id == b.id and a.subject == "Hi Ana"
    assert db_session.scalar(select(func.count()).select_from(OutboundEmail)) == 1


def test_template_by_contact_locale_with_english_fallback(db_session):
    db_session.add_all([EmailTemplate(key="follow_up", locale="en", subject="Hello {{ contact.first_name }}", body="b"),
                        EmailTemplate(key="follow_up", locale="pt", subject="Olá {{ contact.first_name }}", body="b")])
    pt, ro = f.contact(first_name="Rui", locale="pt"), f.contact(first_name="Ion", locale="ro")
    assert queue_email(idempotency_key="a", contact=pt, template_key="follow_up").subject == "Olá Rui"
    assert queue_email(idempotency_key="b", contact=ro, template_key="follow_up").subject == "Hello Ion"
    with pytest.raises(NotFound):
        queue_email(idempotency_key="c", contact=pt, template_key="missing")


def test_suppressed_and_opted_out_are_blocked(db_session):
    c = f.contact()
    db_session.add(Suppression(email=c.email, reason="bounce"))
    with pytest.raises(EmailBlocked):
        queue_email(idempotency_key="s", contact=c, subject="x", body="y")
    opted = f.contact(email_opt_out=True)
    with pytest.raises(EmailBlocked):
        queue_email(idempotency_key="o", contact=opted, subject="x", body="y", kind=TemplateKind.MARKETING)
    assert queue_email(idempotency_key="t", contact=opted, subject="x", body="y").id


@pytest.mark.parametrize("body", ["{{ contact.__class__ }}", "{{ config }}", "{{ lead.owner.password_hash }}",
                                  "{% for x in ().__class__.__base__.__subclasses__() %}{% endfor %}"])
def test_templates_cannot_reach_outside_their_fields(body):
    with pytest.raises(ValidationFailed):
        check_template("Subject", body)
