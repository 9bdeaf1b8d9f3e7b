"""log_touches: a batch of touches with log_touch's rules, one lookup and one INSERT round."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.errors import ValidationFailed
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
