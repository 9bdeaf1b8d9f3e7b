"""Two senders draining one outbox at once never send a row twice.

On PostgreSQL the claim uses FOR UPDATE SKIP LOCKED; on SQLite the write lock
serialises the claims. Both branches run here against committed data in a fresh
database of each kind, with two threads, each with its own app context and session.
"""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest
from sqlalchemy import func, select
from werkzeug import Response

from crm.db import is_postgresql, skip_locked
from crm.email.models import EmailStatus, OutboundEmail
from crm.email.outbox import queue_email
from crm.email.sender import CUSTOM_ARG, drain
from crm.extensions import db
from tests.conftest import fresh_app_on
from tests.email.conftest import MAIL_SEND

MESSAGES = 120


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_app(request, tmp_path, httpserver):
    host = httpserver.url_for("/").rstrip("/")
    with fresh_app_on(request.param, tmp_path, SENDGRID_API_KEY="SG.test-key", SENDGRID_API_HOST=host) as app:
        yield app


def test_two_senders_never_send_one_row_twice(fresh_app, httpserver):
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def answer(request):
        with lock:
            counts[json.loads(request.get_data())["custom_args"][CUSTOM_ARG]] += 1
        return Response("", status=202, headers={"X-Message-Id": "sg"})

    httpserver.expect_request(MAIL_SEND, method="POST").respond_with_handler(answer)
    with fresh_app.app_context():
        for n in range(MESSAGES):
            queue_email(idempotency_key=f"c{n}", to_email=f"person{n}@example.org", subject="Hi", body="Hello")
        db.session.commit()

    reports, errors = [], []
    start = threading.Barrier(2)

    def sender():
        try:
            with fresh_app.app_context():
                start.wait()
                reports.append(drain(batch_size=7))
                db.session.remove()
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sum(counts.values()) == MESSAGES and set(counts.values()) == {1}
    assert sum(r.sent for r in reports) == MESSAGES
    with fresh_app.app_context():
        statuses = dict(db.session.execute(select(OutboundEmail.status, func.count()).group_by(OutboundEmail.status)).all())
        assert statuses == {EmailStatus.SENT: MESSAGES}


def test_skip_locked_only_on_postgresql(fresh_app):
    with fresh_app.app_context():
        stmt = skip_locked(select(OutboundEmail.id), db.session)
        sql = str(stmt.compile(dialect=db.session.get_bind().dialect))
        assert ("SKIP LOCKED" in sql) == is_postgresql(db.session)
