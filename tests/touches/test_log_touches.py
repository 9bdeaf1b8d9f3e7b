"""log_touches: a batch of touches with log_touch's rules, one lookup and one INSERT round."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select

from crm.errors import ValidationFailed
from crm.leads.models import Lead
from crm.touches.models import Touch
from crm.touches.service import log_touch, log_touches
from tests import factories as f


def _entry(contact, external_id, **kw):
    return {"contact": contact, "channel": "email", "direction": "outbound", "outcome": "sent", "provider": "sendgrid",
            "external_id": external_id, "subject": "s", **kw}


def test_a_batch_creates_touches_in_order_and_returns_existing_ones(db_session):
    rep = f.user()
    lead = f.lead(rep)
    earlier = log_touch(**_entry(lead.contact, "1")).touch
    results = log_touches([_entry(lead.contact, "2", lead=lead, user=rep), _entry(lead.contact, "1"),
                           _entry(f.contact(), "3")])
    assert [r.created for r in results] == [True, False, True]
    assert results[1].touch.id == earlier.id
    assert results[0].touch.lead_id == lead.id and results[0].touch.user_id == rep.id
    assert lead.first_touch_at == results[0].touch.occurred_at == lead.last_touch_at
    assert db_session.scalar(select(func.count()).select_from(Touch)) == 3


def test_one_id_twice_in_a_batch_is_one_touch(db_session):
    contact = f.contact()
    results = log_touches([_entry(contact, "dup"), _entry(contact, "dup")])
    assert [r.created for r in results] == [True, False] and results[0].touch.id == results[1].touch.id
    assert db_session.scalar(select(func.count()).select_from(Touch)) == 1


@pytest.mark.parametrize(("change", "field"), [
    ({"outcome": "busy"}, "outcome"), ({"talk_seconds": -1}, "talk_seconds"), ({"channel": "fax"}, "channel"),
])
def test_bad_entries_are_refused_like_log_touch(db_session, change, field):
    with pytest.raises(ValidationFailed) as info:
        log_touches([_entry(f.contact(), "x", **change)])
    assert field in info.value.fields


def test_a_lead_of_another_contact_is_refused(db_session):
    with pytest.raises(ValidationFailed):
        log_touches([_entry(f.contact(), "x", lead=f.lead(f.user()))])


def test_an_empty_batch_does_nothing(db_session):
    assert log_touches([]) == []


def _stored(db_session, lead):
    leads = Lead.__table__
    return db_session.execute(select(leads.c.first_touch_at, leads.c.last_touch_at, leads.c.title)
                              .where(leads.c.id == lead.id)).one()


def test_log_touch_writes_the_lead_at_once_and_leaves_nothing_to_flush(db_session):
    lead = f.lead(f.user())
    db_session.flush()
    first = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    log_touch(contact=lead.contact, lead=lead, channel="call", direction="outbound", outcome="no_answer", occurred_at=first)
    assert not inspect(lead).modified and lead.first_touch_at == lead.last_touch_at == first
    assert _stored(db_session, lead)[:2] == (first, first)  # in the row already, without a flush
    # an inbound touch later moves only the last touch; an earlier outbound one only the first
    log_touch(contact=lead.contact, lead=lead, channel="email", direction="inbound", occurred_at=first + timedelta(hours=1))
    log_touch(contact=lead.contact, lead=lead, channel="call", direction="outbound", outcome="busy",
              occurred_at=first - timedelta(hours=1))
    assert _stored(db_session, lead)[:2] == (first - timedelta(hours=1), first + timedelta(hours=1))
    assert (lead.first_touch_at, lead.last_touch_at) == (first - timedelta(hours=1), first + timedelta(hours=1))


def test_log_touch_on_a_lead_with_unsaved_changes_saves_both(db_session):
    lead = f.lead(f.user())
    db_session.flush()
    lead.title = "Renamed before the call"
    touch = log_touch(contact=lead.contact, lead=lead, channel="call", direction="outbound", outcome="connected").touch
    db_session.flush()
    assert _stored(db_session, lead) == (touch.occurred_at, touch.occurred_at, "Renamed before the call")
