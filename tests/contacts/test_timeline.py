from __future__ import annotations

from datetime import timedelta

from crm.contacts.timeline import contact_timeline
from crm.db import utcnow
from crm.leads.service import change_stage
from crm.tasks.models import Task
from crm.touches.service import log_touch
from tests import factories as f


def _history(rep, lead, n):
    start = utcnow() - timedelta(days=n)
    for i in range(n):
        log_touch(contact=lead.contact, lead=lead, user=rep, channel=["call", "email", "chat"][i % 3],
                  direction="outbound", outcome=["no_answer", "sent", "sent"][i % 3], occurred_at=start + timedelta(days=i))


def test_timeline_weaves_all_kinds_newest_first(db_session):
    rep = f.user()
    lead = f.lead(rep)
    _history(rep, lead, 3)
    change_stage(lead, "nurture", actor=rep)
    db_session.add(Task(title="Call back", lead=lead, assignee_id=rep.id, due_at=utcnow()))
    db_session.flush()
    items = contact_timeline(lead.contact)
    assert {i.kind for i in items} == {"touch", "stage_change", "task"}
    assert [i.at for i in items] == sorted((i.at for i in items), reverse=True)


def test_timeline_filters_by_channel(db_session):
    rep = f.user()
    lead = f.lead(rep)
    _history(rep, lead, 6)
    touches = [i.item for i in contact_timeline(lead.contact, channel="email") if i.kind == "touch"]
    assert len(touches) == 2 and {t.channel.value for t in touches} == {"email"}


def test_timeline_query_count_does_not_grow_with_history(db_session, count_queries):
    rep = f.user()
    short, long = f.lead(rep), f.lead(rep)
    _history(rep, short, 2)
    _history(rep, long, 40)
    db_session.expire_all()
    with count_queries() as few:
        contact_timeline(short.contact)
    db_session.expire_all()
    with count_queries() as many:
        contact_timeline(long.contact)
    assert many.count == few.count
