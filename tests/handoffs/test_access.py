"""Who sees a hand-off, who accepts or sends it back, who approves: the matrix, through the API and the pages."""

from __future__ import annotations

import pytest

from crm import access
from crm.handoffs.models import HandoffStatus
from tests import factories as f
from tests.api_helpers import Api
from tests.handoffs.conftest import TWO_MET, hand, sign_in

PEOPLE = ["rep", "rep_other", "field", "field_other", "manager", "manager_porto", "admin"]

# A pending hand-off from `rep` to `field` (both in Lisbon).
SEES = {"rep": True, "rep_other": False, "field": True, "field_other": False, "manager": True,
        "manager_porto": False, "admin": True}
ACCEPT = {"rep": 403, "rep_other": 404, "field": 200, "field_other": 404, "manager": 403, "manager_porto": 404,
          "admin": 403}
# A hand-off awaiting approval: only Lisbon's manager and the admin approve; the field rep does not see it yet.
APPROVE = {"rep": 403, "rep_other": 404, "field": 404, "field_other": 404, "manager": 200, "manager_porto": 404,
           "admin": 200}


@pytest.mark.parametrize("who", PEOPLE)
def test_who_sees_a_pending_hand_off(client, db_session, org, who):
    h = hand(org)
    user = getattr(org, who)
    api = Api(client, user)
    assert api.get(f"/handoffs/{h.id}").status_code == (200 if SEES[who] else 404)
    assert [i["id"] for i in api.get("/handoffs").json["items"]] == ([h.id] if SEES[who] else [])
    sign_in(client, user)
    assert client.get(f"/handoffs/{h.id}").status_code == (200 if SEES[who] else 404)


@pytest.mark.parametrize("who", PEOPLE)
def test_who_may_accept(client, db_session, org, who):
    h = hand(org)
    assert Api(client, getattr(org, who)).post(f"/handoffs/{h.id}/accept").status_code == ACCEPT[who]
    db_session.refresh(h)
    assert h.status == (HandoffStatus.ACCEPTED if who == "field" else HandoffStatus.PENDING)


@pytest.mark.parametrize("who", PEOPLE)
def test_who_may_send_back(client, db_session, org, who):
    h = hand(org)
    resp = Api(client, getattr(org, who)).post(f"/handoffs/{h.id}/reject", {"reason": "Not now"})
    assert resp.status_code == ACCEPT[who]
    db_session.refresh(h)
    assert h.status == (HandoffStatus.REJECTED if who == "field" else HandoffStatus.PENDING)


@pytest.mark.parametrize("who", PEOPLE)
def test_who_may_approve(client, db_session, org, who):
    h = hand(org, qualification=TWO_MET)
    assert Api(client, getattr(org, who)).post(f"/handoffs/{h.id}/approve", {}).status_code == APPROVE[who]
    db_session.refresh(h)
    assert h.status == (HandoffStatus.PENDING if APPROVE[who] == 200 else HandoffStatus.AWAITING_APPROVAL)


@pytest.mark.parametrize("who, allowed", [("rep", True), ("rep_other", False), ("field", False),
                                          ("field_other", False), ("manager", True), ("manager_porto", False),
                                          ("admin", True)])
def test_who_may_hand_off_a_reps_lead(client, db_session, org, who, allowed):
    body = {"budget": {"answer": "a", "met": True}, "authority": {"answer": "b", "met": True},
            "need": {"answer": "c", "met": True}, "to_user_id": org.field.id}
    resp = Api(client, getattr(org, who)).post(f"/leads/{org.lead.id}/handoff", body)
    assert resp.status_code == (201 if allowed else 404), resp.json


def test_a_field_rep_sees_the_lead_only_once_the_hand_off_reached_them(db_session, org):
    h = hand(org, qualification=TWO_MET)
    assert not access.can_see_lead(org.field, org.lead)
    h.status = HandoffStatus.PENDING
    db_session.flush()
    assert access.can_see_lead(org.field, org.lead) and not access.can_change_lead(org.field, org.lead)
    assert not access.can_see_lead(org.field_other, org.lead)


def test_a_field_rep_who_sent_it_back_still_sees_the_history(db_session, org):
    from crm.handoffs import service

    service.send_back(hand(org), actor=org.field, reason="Too small")
    assert access.can_see_lead(org.field, org.lead) and not access.can_change_lead(org.field, org.lead)
    other = f.lead(org.rep)
    assert not access.can_see_lead(org.field, other)
