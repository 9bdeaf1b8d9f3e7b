"""/api/v1/queue, /queue/next, leases and reassignment over the API; the OpenAPI document."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from crm.audit.models import AuditEvent
from crm.extensions import db
from crm.tasks.models import Task
from tests import factories as f
from tests.api_helpers import Api
from tests.queue.conftest import T0, follow_up, make_lead


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def test_queue_lists_items_with_reasons(client, rep, team):
    overdue = make_lead(rep)
    follow_up(overdue, rep, T0 - timedelta(hours=1))
    pool = make_lead(None, team, touched=False)
    body = Api(client, rep).get("/queue", limit=10).json
    assert [(i["lead"]["id"], i["reason"], i["overdue_follow_ups"]) for i in body["items"]] == [
        (overdue.id, "follow_up", 1), (pool.id, "pool", 0)]
    assert body["items"][0]["reason_label"] == "Follow-up overdue"


def test_queue_limit_is_validated(client, rep):
    resp = Api(client, rep).get("/queue", limit=0)
    assert resp.status_code == 422 and "limit" in resp.json["error"]["fields"]


def test_next_claims_with_a_lease_and_answers_204_when_empty(client, rep, team):
    pool = make_lead(None, team, touched=False)
    api = Api(client, rep)
    resp = api.post("/queue/next")
    assert resp.status_code == 200
    assert (resp.json["lead"]["id"], resp.json["reason"], resp.json["from_pool"]) == (pool.id, "pool", True)
    assert resp.json["lead"]["owner"]["id"] == rep.id
    assert resp.json["lease_expires_at"].startswith("2026-12-01T11:15")
    empty = api.post("/queue/next")  # the only lead is held (and skipped) now
    assert empty.status_code == 204 and empty.data == b""


def test_next_is_refused_for_managers(client, team):
    resp = Api(client, f.user("manager", team=team)).post("/queue/next")
    assert resp.status_code == 403 and resp.json["error"]["code"] == "forbidden"


def test_lease_renew_release_and_conflicts(client, rep, other_rep, frozen):
    lead = make_lead(rep, touched=False)
    api = Api(client, rep)
    api.post("/queue/next")
    frozen.shift(timedelta(minutes=5))
    renewed = api.post(f"/leads/{lead.id}/lease")
    assert renewed.status_code == 200 and renewed.json["lease_expires_at"].startswith("2026-12-01T11:20")
    assert client.delete(f"/api/v1/leads/{lead.id}/lease", headers=api.headers).status_code == 204
    lost = api.post(f"/leads/{lead.id}/lease")
    assert lost.status_code == 409 and lost.json["error"]["code"] == "lease_expired"
    assert Api(client, other_rep).post(f"/leads/{lead.id}/lease").status_code == 404  # not theirs to see


def test_reassign_one_or_many_is_audited_and_moves_open_follow_ups(client, rep, other_rep, team):
    manager = f.user("manager", team=team)
    leads = [make_lead(rep) for _ in range(3)]
    task = follow_up(leads[0], rep, T0 + timedelta(days=1))
    resp = Api(client, manager).post("/leads/reassign", {"lead_ids": [lead.id for lead in leads],
                                                         "owner_id": other_rep.id})
    assert resp.status_code == 200 and {i["owner"]["id"] for i in resp.json["items"]} == {other_rep.id}
    db.session.expire_all()
    assert db.session.get(Task, task.id).assignee_id == other_rep.id
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "lead.reassigned")).all()
    assert sorted(e.entity_id for e in events) == sorted(lead.id for lead in leads)
    assert events[0].changes == {"from": rep.id, "to": other_rep.id} and events[0].actor_id == manager.id


@pytest.mark.parametrize(("who", "status"), [("rep", 403), ("field", 403), ("other_manager", 403), ("admin", 200)])
def test_reassign_access_matrix(client, rep, other_rep, team, who, status):
    lead = make_lead(rep)
    user = {"rep": rep, "field": f.user("field", team=team), "other_manager": f.user("manager", team=f.team()),
            "admin": f.user("admin")}[who]
    resp = Api(client, user).post("/leads/reassign", {"lead_ids": [lead.id], "owner_id": other_rep.id})
    assert resp.status_code == status
    db.session.refresh(lead)
    assert lead.owner_id == (other_rep.id if status == 200 else rep.id)


def test_reassign_to_a_rep_outside_the_managers_team_is_refused(client, rep, team):
    manager = f.user("manager", team=team)
    outsider = f.user("rep", team=f.team())
    lead = make_lead(rep)
    resp = Api(client, manager).post("/leads/reassign", {"lead_ids": [lead.id], "owner_id": outsider.id})
    assert resp.status_code == 403 and "owner_id" in resp.json["error"]["fields"]


def test_reassign_of_a_lead_outside_the_team_moves_nothing(client, rep, other_rep, team):
    manager = f.user("manager", team=team)
    mine = make_lead(rep)
    elsewhere = make_lead(f.user("rep", team=f.team()))
    resp = Api(client, manager).post("/leads/reassign", {"lead_ids": [mine.id, elsewhere.id],
                                                         "owner_id": other_rep.id})
    assert resp.status_code == 404 and str(elsewhere.id) in resp.json["error"]["fields"]["lead_ids"]
    db.session.refresh(mine)
    assert mine.owner_id == rep.id


@pytest.mark.parametrize("body", [{"lead_ids": [], "owner_id": 1}, {"lead_ids": [1]}, {"lead_ids": ["x"], "owner_id": 1},
                                  {"lead_ids": [1], "owner_id": 999999}])
def test_reassign_bad_bodies(client, team, body):
    resp = Api(client, f.user("manager", team=team)).post("/leads/reassign", body)
    assert resp.status_code == 422 and resp.json["error"]["fields"]


def test_openapi_describes_the_queue(client):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["paths"]["/api/v1/queue/next"]["post"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ClaimOut"}
    assert "content" not in doc["paths"]["/api/v1/queue/next"]["post"]["responses"]["204"]
    assert set(doc["paths"]["/api/v1/leads/{lead_id}/lease"]) == {"post", "delete"}
    assert "ReassignIn" in doc["components"]["schemas"] and "QueueList" in doc["components"]["schemas"]
