"""/api/v1/tasks: list with filters and keyset pages, create, PATCH complete/reschedule/reassign, errors with paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm.tasks import service
from tests.api_helpers import Api
from tests.tasks.conftest import DUE


@pytest.fixture
def api(client, org):
    people, _ = org
    return {name: Api(client, user) for name, user in people.items()}


def test_create_and_read_a_task(api, org):
    _, leads = org
    resp = api["rep_a"].post("/tasks", {"title": "Send the price list", "due_at": "2026-11-24T10:00:00+09:00",
                                        "lead_id": leads["a"].id, "kind": "email"})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["due_at"].startswith("2026-11-24T01:00:00") and body["kind"] == "email"
    assert body["assignee"]["name"] == "Rita Reis" and body["contact"]["id"] == leads["a"].contact_id
    assert api["rep_a"].get(f"/tasks/{body['id']}").get_json()["title"] == "Send the price list"
    assert api["rep_b"].get(f"/tasks/{body['id']}").status_code == 404


@pytest.mark.parametrize(("payload", "status", "field"), [
    ({"title": "", "due_at": "2026-11-24T10:00:00Z", "lead_id": 1}, 422, "title"),
    ({"title": "Call", "due_at": "soon", "lead_id": 1}, 422, "due_at"),
    ({"title": "Call", "due_at": "2026-11-24T10:00:00", "lead_id": "LEAD"}, 422, "due_at"),
    ({"title": "Call", "due_at": "2026-11-24T10:00:00Z"}, 422, "body"),
    ({"title": "Call", "due_at": "2026-11-24T10:00:00Z", "lead_id": "LEAD", "colour": "red"}, 422, "colour"),
    ({"title": "Call", "due_at": "2026-11-24T10:00:00Z", "lead_id": "PORTO"}, 404, "lead_id"),
    ({"title": "Call", "due_at": "2026-11-24T10:00:00Z", "lead_id": "LEAD", "assignee_id": "REP_B"}, 403,
     "assignee_id"),
])
def test_bad_tasks_get_an_error_with_the_field_path(api, org, payload, status, field):
    people, leads = org
    swap = {"LEAD": leads["a"].id, "PORTO": leads["porto"].id, "REP_B": people["rep_b"].id}
    payload = {k: swap.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
    resp = api["rep_a"].post("/tasks", payload)
    assert resp.status_code == status, resp.get_json()
    error = resp.get_json()["error"]
    assert field in error["fields"] and error["code"]


def test_list_filters_and_keyset_pages(api, org):
    people, leads = org
    ids = [service.create_task(people["rep_a"], title=f"Call {i}", due_at=DUE + timedelta(days=i),
                               lead_id=leads["a"].id).id for i in range(5)]
    service.create_task(people["rep_b"], title="Ion's", due_at=DUE, lead_id=leads["b"].id)
    first = api["rep_a"].get("/tasks", limit=2).get_json()
    second = api["rep_a"].get("/tasks", limit=2, cursor=first["next_cursor"]).get_json()
    third = api["rep_a"].get("/tasks", limit=2, cursor=second["next_cursor"]).get_json()
    assert [t["id"] for t in first["items"] + second["items"] + third["items"]] == ids[::-1]
    assert third["next_cursor"] is None
    late = api["rep_a"].get("/tasks", due_after="2026-11-26T00:00:00Z").get_json()
    assert [t["title"] for t in late["items"]] == ["Call 4", "Call 3", "Call 2"]
    team = api["manager"].get("/tasks", assignee_id=people["rep_b"].id).get_json()
    assert [t["title"] for t in team["items"]] == ["Ion's"]
    assert api["manager_porto"].get("/tasks").get_json()["items"] == []
    bad = api["rep_a"].get("/tasks", cursor="nonsense")
    assert bad.status_code == 422 and "cursor" in bad.get_json()["error"]["fields"]
    bad = api["rep_a"].get("/tasks", status="maybe")
    assert bad.status_code == 422 and "status" in bad.get_json()["error"]["fields"]


def test_overdue_filter(api, org):
    people, leads = org
    service.create_task(people["rep_a"], title="Past", due_at=datetime(2020, 1, 1, tzinfo=UTC), lead_id=leads["a"].id)
    service.create_task(people["rep_a"], title="Future", due_at=datetime(2099, 1, 1, tzinfo=UTC), lead_id=leads["a"].id)
    items = api["rep_a"].get("/tasks", overdue="true").get_json()["items"]
    assert [(t["title"], t["overdue"]) for t in items] == [("Past", True)]


def test_patch_reschedules_reassigns_and_completes(api, org):
    people, leads = org
    task = service.create_task(people["rep_a"], title="Call", due_at=DUE, lead_id=leads["a"].id)
    resp = api["rep_a"].patch(f"/tasks/{task.id}", {"due_at": "2026-11-30T15:00:00Z"})
    assert resp.status_code == 200 and resp.get_json()["due_at"].startswith("2026-11-30T15:00")
    denied = api["rep_a"].patch(f"/tasks/{task.id}", {"assignee_id": people["rep_b"].id})
    assert denied.status_code == 403 and "assignee_id" in denied.get_json()["error"]["fields"]
    resp = api["manager"].patch(f"/tasks/{task.id}", {"assignee_id": people["rep_b"].id})
    assert resp.status_code == 200 and resp.get_json()["assignee"]["id"] == people["rep_b"].id
    assert api["rep_a"].patch(f"/tasks/{task.id}", {"status": "done"}).status_code == 404  # no longer hers
    resp = api["rep_b"].patch(f"/tasks/{task.id}", {"status": "done"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "done" and resp.get_json()["completed_at"]
    again = api["rep_b"].patch(f"/tasks/{task.id}", {"status": "done"})
    assert again.status_code == 409 and again.get_json()["error"]["fields"] == {"status": "Only open tasks change."}


@pytest.mark.parametrize(("payload", "field"), [
    ({}, "body"), ({"status": "open"}, "status"), ({"due_at": "2026-11-30T15:00:00"}, "due_at"),
    ({"assignee_id": 0}, "assignee_id"),
])
def test_bad_patches_name_the_field(api, org, payload, field):
    people, leads = org
    task = service.create_task(people["rep_a"], title="Call", due_at=DUE, lead_id=leads["a"].id)
    resp = api["manager"].patch(f"/tasks/{task.id}", payload)
    assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"], resp.get_json()


def test_the_openapi_document_describes_tasks(api):
    doc = api["rep_a"].client.get("/api/v1/openapi.json").get_json()
    assert {"get", "post"} <= set(doc["paths"]["/api/v1/tasks"])
    assert {"get", "patch"} <= set(doc["paths"]["/api/v1/tasks/{task_id}"])
    assert "TaskIn" in doc["components"]["schemas"] and "409" in doc["paths"]["/api/v1/tasks/{task_id}"]["patch"]["responses"]
