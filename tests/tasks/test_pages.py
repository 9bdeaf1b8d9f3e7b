"""/tasks and the lead page's task form: mine or my team's, overdue highlighted, create, complete,
reschedule, reassign, with errors beside the field."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine
from sqlalchemy import select

from crm.tasks import service
from crm.tasks.models import Task, TaskStatus
from tests import factories as f
from tests.tasks.conftest import DUE

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def sign_in(client, user):
    assert client.post("/login", data={"email": user.email, "password": f.PASSWORD}).status_code == 302


def test_a_rep_sees_only_their_open_tasks_with_the_overdue_ones_marked(client, org):
    people, leads = org
    service.create_task(people["rep_a"], title="Overdue call", due_at=DUE, lead_id=leads["a"].id)
    service.create_task(people["rep_a"], title="Tomorrow call", due_at=DUE.replace(day=25), lead_id=leads["a"].id)
    service.create_task(people["rep_b"], title="Someone else's", due_at=DUE, lead_id=leads["b"].id)
    sign_in(client, people["rep_a"])
    with time_machine.travel(NOW, tick=False):
        html = client.get("/tasks").get_data(as_text=True)
    assert "Overdue call" in html and "Tomorrow call" in html and "Someone else" not in html
    assert html.count('data-testid="overdue"') == 1 and "table-danger" in html
    assert "Reassign" not in html  # reps do not reassign


def test_a_manager_sees_the_teams_tasks_and_can_reassign(client, org):
    people, leads = org
    task = service.create_task(people["rep_a"], title="Rita's call", due_at=DUE, lead_id=leads["a"].id)
    service.create_task(people["rep_porto"], title="Porto's call", due_at=DUE, lead_id=leads["porto"].id)
    sign_in(client, people["manager"])
    html = client.get("/tasks").get_data(as_text=True)
    assert "Rita&#39;s call" in html and "Porto" not in html and "Reassign" in html
    resp = client.post(f"/tasks/{task.id}/reassign", data={"assignee_id": people["rep_b"].id})
    assert resp.status_code == 302
    assert task.assignee_id == people["rep_b"].id


def test_a_manager_cannot_reassign_outside_the_team(client, org, db_session):
    people, leads = org
    task = service.create_task(people["rep_a"], title="Call", due_at=DUE, lead_id=leads["a"].id)
    sign_in(client, people["manager"])
    resp = client.post(f"/tasks/{task.id}/reassign", data={"assignee_id": people["rep_porto"].id})
    assert resp.status_code == 302
    db_session.refresh(task)
    assert task.assignee_id == people["rep_a"].id


def test_create_on_the_tasks_page_in_the_users_own_time(client, org, db_session):
    people, leads = org
    people["rep_a"].timezone = "Asia/Tokyo"
    sign_in(client, people["rep_a"])
    resp = client.post("/tasks", data={"title": "Send the contract", "due_at": "2026-11-25T09:30", "kind": "email",
                                       "lead_id": leads["a"].id})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    task = db_session.scalar(select(Task).where(Task.title == "Send the contract"))
    assert task.due_at == datetime(2026, 11, 25, 0, 30, tzinfo=UTC) and task.assignee_id == people["rep_a"].id


def test_bad_input_on_the_tasks_page_shows_errors_beside_the_fields(client, org, db_session):
    people, leads = org
    sign_in(client, people["rep_a"])
    resp = client.post("/tasks", data={"title": "", "due_at": "tomorrow", "lead_id": leads["a"].id})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'id="title-error"' in html and 'id="due_at-error"' in html
    resp = client.post("/tasks", data={"title": "Call", "due_at": "2026-11-25T09:30", "lead_id": leads["b"].id})
    assert resp.status_code == 422 and 'id="lead_id-error"' in resp.get_data(as_text=True)
    assert db_session.scalar(select(Task.id)) is None


def test_the_lead_page_has_a_new_task_form_on_the_t_key(client, org, db_session):
    people, leads = org
    sign_in(client, people["rep_a"])
    html = client.get(f"/leads/{leads['a'].id}").get_data(as_text=True)
    assert 'data-shortcut="t"' in html and 'name="from" value="lead"' in html
    resp = client.post("/tasks", data={"title": "Send the brochure", "due_at": "2026-11-25T09:30", "from": "lead",
                                       "lead_id": leads["a"].id, "assignee_id": people["rep_a"].id,
                                       "kind": "follow_up"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/leads/{leads['a'].id}")
    html = client.get(f"/leads/{leads['a'].id}").get_data(as_text=True)
    assert "Send the brochure" in html and 'data-testid="lead-tasks"' in html
    resp = client.post("/tasks", data={"title": "", "due_at": "2026-11-25T09:30", "from": "lead",
                                       "lead_id": leads["a"].id, "assignee_id": people["rep_a"].id})
    assert resp.status_code == 422 and 'id="new-task-title-error"' in resp.get_data(as_text=True)


def test_complete_and_reschedule_from_the_list(client, org, db_session):
    people, leads = org
    task = service.create_task(people["rep_a"], title="Call", due_at=DUE, lead_id=leads["a"].id)
    sign_in(client, people["rep_a"])
    assert client.post(f"/tasks/{task.id}/reschedule", data={"due_at": "2026-11-27T16:00"}).status_code == 302
    db_session.refresh(task)
    assert task.due_at == datetime(2026, 11, 27, 16, 0, tzinfo=UTC)  # Lisbon in winter is UTC
    assert client.post(f"/tasks/{task.id}/complete").status_code == 302
    db_session.refresh(task)
    assert task.status == TaskStatus.DONE
    assert "Call" in client.get("/tasks?status=done").get_data(as_text=True)


def test_someone_elses_task_answers_404(client, org):
    people, leads = org
    task = service.create_task(people["rep_b"], title="Call", due_at=DUE, lead_id=leads["b"].id)
    sign_in(client, people["rep_a"])
    assert client.post(f"/tasks/{task.id}/complete").status_code == 404
