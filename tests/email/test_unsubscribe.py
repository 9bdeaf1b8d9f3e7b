"""/unsubscribe/<token>: no sign-in; GET asks, POST (and RFC 8058 one-click POST) unsubscribes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.audit.models import AuditEvent
from crm.contacts.models import Contact
from crm.email.models import Suppression, TemplateKind
from crm.email.outbox import EmailBlocked, queue_email
from tests import factories as f


@pytest.fixture
def marketing(db_session):
    contact = f.contact(email="Ana.Sousa@Example.pt")
    twin = f.contact(email="ana.sousa@example.pt")  # the same address on a duplicate record
    message = queue_email(idempotency_key="m", contact=contact, subject="News", body="{{ unsubscribe_url }}",
                          kind=TemplateKind.MARKETING)
    db_session.commit()  # kept (inside the test's outer transaction) when a refused request rolls back
    return contact, twin, message


def _state(db_session, *contacts):
    return ([db_session.get(Contact, c.id, populate_existing=True).email_opt_out for c in contacts],
            db_session.scalar(select(func.count()).select_from(Suppression).where(Suppression.lifted_at.is_(None))))


def test_get_asks_before_unsubscribing(client, db_session, marketing):
    contact, twin, message = marketing
    resp = client.get(f"/unsubscribe/{message.reply_token}")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "ana.sousa@example.pt" in page and '<button class="btn btn-primary"' in page
    assert _state(db_session, contact, twin) == ([False, False], 0)


def test_post_unsubscribes_without_sign_in(client, db_session, marketing):
    contact, twin, message = marketing
    resp = client.post(f"/unsubscribe/{message.reply_token}")
    assert resp.status_code == 200 and "We will not email ana.sousa@example.pt again." in resp.get_data(as_text=True)
    assert _state(db_session, contact, twin) == ([True, True], 1)
    row = db_session.scalar(select(Suppression))
    assert (row.email, row.reason) == ("ana.sousa@example.pt", "unsubscribe")
    opt_outs = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "contact.email_opt_out")
    assert db_session.scalar(opt_outs) == 2
    with pytest.raises(EmailBlocked):
        queue_email(idempotency_key="m2", contact=contact, subject="x", body="y")
    again = client.get(f"/unsubscribe/{message.reply_token}")
    assert "already unsubscribed" in again.get_data(as_text=True)
    assert client.post(f"/unsubscribe/{message.reply_token}").status_code == 200  # twice is fine
    assert _state(db_session, contact, twin) == ([True, True], 1)


def test_one_click_post_works_with_csrf_on(client, db_session, marketing, app, monkeypatch):
    contact, twin, message = marketing
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    assert client.post("/logout").status_code == 400  # CSRF is really on for other forms
    resp = client.post(f"/unsubscribe/{message.reply_token}", data="List-Unsubscribe=One-Click",
                       content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 200
    assert _state(db_session, contact, twin) == ([True, True], 1)


def test_an_unknown_token_is_404_and_changes_nothing(client, db_session, marketing):
    contact, twin, _message = marketing
    assert client.get("/unsubscribe/not-a-token").status_code == 404
    assert client.post("/unsubscribe/not-a-token").status_code == 404
    assert _state(db_session, contact, twin) == ([False, False], 0)
