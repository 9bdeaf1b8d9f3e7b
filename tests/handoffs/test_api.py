"""/api/v1 hand-offs: create, list by status in keyset pages, accept, send back, approve and refuse."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.handoffs.models import Handoff, HandoffStatus
from crm.leads.models import Lead, Stage
from crm.tasks.models import Task, TaskKind
from tests import factories as f
from tests.api_helpers import Api
from tests.handoffs.conftest import hand

QUALIFIED = {"budget": {"answer": "€40k", "met": True}, "authority": {"answer": "CFO", "met": True},
             "need": {"answer": "40 seats", "met": True}, "timeline": {"answer": "Q1", "met": True},
             "notes": "Mornings"}


def _count(db_session, model=Handoff):
    return db_session.scalar(select(func.count()).select_from(model))


def test_create_then_accept_through_the_api(client, db_session, org):
    org.lead.contact.timezone = "America/New_York"
    body = {**QUALIFIED, "to_user_id": org.field.id, "proposed_meeting_at": "2030-01-15T09:30:00"}
    made = Api(client, org.rep).post(f"/leads/{org.lead.id}/handoff", body)
    assert made.status_code == 201, made.json
    data = made.json
    assert data["status"] == "pending" and data["criteria_met"] == 4 and data["budget"] == {"answer": "€40k", "met": True}
    assert data["from_user"]["id"] == org.rep.id and data["to_user"]["id"] == org.field.id
    assert data["proposed_meeting_at"].startswith("2030-01-15T14:30:00") and data["contact_timezone"] == "America/New_York"
    assert data["proposed_meeting_local"] == "2030-01-15T09:30:00-05:00" and data["submitted_at"]

    accepted = Api(client, org.field).post(f"/handoffs/{data['id']}/accept")
    assert accepted.status_code == 200 and accepted.json["status"] == "accepted" and accepted.json["decided_at"]
    lead = db_session.get(Lead, org.lead.id)
    assert lead.stage == Stage.PROPOSE and lead.field_owner_id == org.field.id and lead.owner_id == org.rep.id


def test_the_team_rule_chooses_when_no_field_rep_is_given(client, db_session, org):
    from crm.auth.models import HandoffRule

    org.lisbon.handoff_rule = HandoffRule.TERRITORY
    made = Api(client, org.rep).post(f"/leads/{org.lead.id}/handoff", QUALIFIED)
    assert made.status_code == 201 and made.json["to_user"]["id"] == org.field.id


def test_send_back_needs_a_reason_and_then_returns_the_lead(client, db_session, org):
    h = hand(org)
    api = Api(client, org.field)
    missing = api.post(f"/handoffs/{h.id}/reject", {})
    assert missing.status_code == 422
    assert missing.json["error"] == {"code": "reason_required", "message": "Say why: a reason is required.",
                                     "fields": {"reason": "A reason is required."}}
    assert db_session.get(Handoff, h.id).status == HandoffStatus.PENDING
    done = api.post(f"/handoffs/{h.id}/reject", {"reason": "No budget until March"})
    assert done.status_code == 200 and done.json["status"] == "rejected"
    assert done.json["rejection_reason"] == "No budget until March"
    assert db_session.get(Lead, org.lead.id).stage == Stage.NURTURE
    assert db_session.scalar(select(Task.kind).where(Task.lead_id == org.lead.id)) == TaskKind.HANDOFF_REVIEW


def test_approve_and_refuse_through_the_api(client, db_session, org):
    two = {**QUALIFIED, "authority": {"answer": "", "met": False}, "timeline": {"answer": "", "met": False},
           "to_user_id": org.field.id}
    rep = Api(client, org.rep)
    first = rep.post(f"/leads/{org.lead.id}/handoff", two).json
    assert first["status"] == "awaiting_approval" and first["submitted_at"] is None
    manager = Api(client, org.manager)
    assert manager.post(f"/handoffs/{first['id']}/approve", {"approve": False}).json["error"]["fields"] == \
        {"reason": "A reason is required."}
    refused = manager.post(f"/handoffs/{first['id']}/approve", {"approve": False, "reason": "Who signs?"})
    assert refused.status_code == 200 and refused.json["status"] == "cancelled"
    second = rep.post(f"/leads/{org.lead.id}/handoff", two).json
    approved = manager.post(f"/handoffs/{second['id']}/approve", {})
    assert approved.status_code == 200 and approved.json["status"] == "pending"
    assert approved.json["approved_by"]["id"] == org.manager.id
    assert Api(client, org.rep).post(f"/handoffs/{second['id']}/approve", {}).status_code == 403


def test_list_by_status_in_keyset_pages(client, db_session, org):
    made = [hand(org, f.lead(org.rep)) for _ in range(5)]
    for h in made[:2]:
        from crm.handoffs import service

        service.accept(h, actor=org.field)
    api = Api(client, org.field)
    first = api.get("/handoffs", status="pending", limit=2).json
    assert [i["id"] for i in first["items"]] == [made[4].id, made[3].id] and first["next_cursor"]
    second = api.get("/handoffs", status="pending", limit=2, cursor=first["next_cursor"]).json
    assert [i["id"] for i in second["items"]] == [made[2].id] and second["next_cursor"] is None
    assert {i["id"] for i in api.get("/handoffs", status="accepted").json["items"]} == {made[0].id, made[1].id}
    assert len(api.get("/handoffs").json["items"]) == 5
    assert api.get("/handoffs", status="lost").status_code == 422
    assert api.get("/handoffs", cursor="nonsense").json["error"]["fields"] == {"cursor": "Invalid cursor."}
    assert Api(client, org.field_other).get("/handoffs").json["items"] == []


def test_list_query_count_does_not_grow_with_rows(client, db_session, org, count_queries):
    for _ in range(3):
        hand(org, f.lead(org.rep))
    api = Api(client, org.manager)
    api.get("/handoffs")
    with count_queries() as few:
        api.get("/handoffs")
    for _ in range(6):
        hand(org, f.lead(org.rep))
    with count_queries() as many:
        assert len(api.get("/handoffs").json["items"]) == 9
    assert many.count == few.count


def test_bad_input_is_refused_with_a_clear_error_and_nothing_changed(client, db_session, org):
    api = Api(client, org.rep)
    url = f"/leads/{org.lead.id}/handoff"
    not_field = api.post(url, {**QUALIFIED, "to_user_id": org.rep_other.id})
    assert not_field.status_code == 422 and not_field.json["error"]["code"] == "not_field_sales"
    assert "to_user_id" in not_field.json["error"]["fields"]
    unknown_field = api.post(url, {**QUALIFIED, "to_user_id": org.field.id, "budget": {"answer": "x", "sure": 1}})
    assert unknown_field.status_code == 422 and "budget.sure" in unknown_field.json["error"]["fields"]
    past = api.post(url, {**QUALIFIED, "to_user_id": org.field.id, "proposed_meeting_at": "2020-01-01T10:00:00"})
    assert past.json["error"]["fields"] == {"proposed_meeting_at": "This time has passed."}
    assert _count(db_session) == 0

    assert api.post(url, {**QUALIFIED, "to_user_id": org.field.id}).status_code == 201
    twice = api.post(url, {**QUALIFIED, "to_user_id": org.field_other.id})
    assert twice.status_code == 409 and twice.json["error"]["code"] == "handoff_open"
    assert _count(db_session) == 1

    h = db_session.scalar(select(Handoff))
    other = Api(client, org.field_other).post(f"/handoffs/{h.id}/accept")
    assert other.status_code == 404  # another field rep cannot even see it
    rep_accepts = api.post(f"/handoffs/{h.id}/accept")
    assert rep_accepts.status_code == 403 and rep_accepts.json["error"]["code"] == "not_your_handoff"
    field = Api(client, org.field)
    assert field.post(f"/handoffs/{h.id}/accept").status_code == 200
    again = field.post(f"/handoffs/{h.id}/reject", {"reason": "Changed my mind"})
    assert again.status_code == 409 and again.json["error"]["code"] == "already_decided"

    proposed = api.post(url, {**QUALIFIED, "to_user_id": org.field.id})
    assert proposed.status_code == 422 and proposed.json["error"]["code"] == "wrong_stage"
    assert api.post("/leads/999999/handoff", QUALIFIED).status_code == 404
    assert api.post("/handoffs/999999/accept").status_code == 404


def test_the_openapi_document_describes_the_hand_off_routes(client):
    doc = client.get("/api/v1/openapi.json").json
    paths = doc["paths"]
    assert {"/api/v1/leads/{lead_id}/handoff", "/api/v1/handoffs", "/api/v1/handoffs/{handoff_id}/accept",
            "/api/v1/handoffs/{handoff_id}/reject", "/api/v1/handoffs/{handoff_id}/approve"} <= set(paths)
    create = paths["/api/v1/leads/{lead_id}/handoff"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/HandoffIn"}
    assert {"201", "403", "409", "422"} <= set(create["responses"])
    assert "status" in {p["name"] for p in paths["/api/v1/handoffs"]["get"]["parameters"]}
    schemas = doc["components"]["schemas"]
    assert {"HandoffIn", "HandoffOut", "HandoffList", "ReasonIn", "ApproveIn", "Criterion"} <= set(schemas)
    assert "reason" in schemas["ReasonIn"]["properties"]
