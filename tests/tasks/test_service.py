"""Task rules: a subject, a title, a zoned due time; only open tasks change; who may give tasks to whom."""

from __future__ import annotations

from datetime import datetime

import pytest
import time_machine

from crm import access
from crm.errors import AccessDenied, Conflict, NotFound, ValidationFailed
from crm.tasks import service
from crm.tasks.models import TaskStatus
from tests.tasks.conftest import DUE


def test_a_rep_creates_a_task_for_their_lead_and_it_is_theirs(org):
    people, leads = org
    task = service.create_task(people["rep_a"], title="  Send the price list ", due_at=DUE, lead_id=leads["a"].id)
    assert (task.title, task.assignee_id, task.created_by_id, task.contact_id, task.status, task.origin) == (
        "Send the price list", people["rep_a"].id, people["rep_a"].id, leads["a"].contact_id, TaskStatus.OPEN,
        "manual")


def test_a_task_for_a_contact_without_a_lead(org, db_session):
    from tests import factories as f

    people, _ = org
    contact = f.contact(team_id=people["rep_a"].team_id)
    task = service.create_task(people["rep_a"], title="Call back", due_at=DUE, contact_id=contact.id)
    assert task.lead_id is None and task.contact_id == contact.id


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"title": "", "due_at": DUE}, "title"),
    ({"title": "x" * 201, "due_at": DUE}, "title"),
    ({"title": "Call", "due_at": None}, "due_at"),
    ({"title": "Call", "due_at": datetime(2026, 11, 24, 10, 0)}, "due_at"),
    ({"title": "Call", "due_at": DUE, "kind": "party"}, "kind"),
])
def test_bad_input_is_refused_beside_the_field(org, kwargs, field):
    people, leads = org
    with pytest.raises(ValidationFailed) as caught:
        service.create_task(people["rep_a"], lead_id=leads["a"].id, **kwargs)
    assert field in caught.value.fields


def test_a_task_needs_a_lead_or_a_contact(org):
    people, _ = org
    with pytest.raises(ValidationFailed) as caught:
        service.create_task(people["rep_a"], title="Call", due_at=DUE)
    assert "lead_id" in caught.value.fields


def test_a_lead_you_cannot_see_answers_not_found(org):
    people, leads = org
    with pytest.raises(NotFound) as caught:
        service.create_task(people["rep_a"], title="Call", due_at=DUE, lead_id=leads["b"].id)
    assert "lead_id" in caught.value.fields


def test_a_contact_that_is_not_the_leads_is_refused(org):
    people, leads = org
    with pytest.raises(ValidationFailed) as caught:
        service.create_task(people["admin"], title="Call", due_at=DUE, lead_id=leads["a"].id,
                            contact_id=leads["b"].contact_id)
    assert "contact_id" in caught.value.fields


# Who may give a new task to whom: (actor, assignee, allowed).
ASSIGN = [
    ("rep_a", "rep_a", True), ("rep_a", "rep_b", False), ("manager", "rep_a", True), ("manager", "rep_b", True),
    ("manager", "rep_porto", False), ("manager_porto", "rep_porto", True), ("admin", "rep_porto", True),
    ("field", "rep_a", False),
]


@pytest.mark.parametrize(("actor", "assignee", "allowed"), ASSIGN)
def test_who_may_give_a_task_to_whom(org, actor, assignee, allowed):
    people, _ = org
    if allowed:
        access.check_task_assignee(people[actor], people[assignee])
    else:
        with pytest.raises(AccessDenied):
            access.check_task_assignee(people[actor], people[assignee])


def test_a_deactivated_user_gets_no_tasks(org, db_session):
    people, _ = org
    people["rep_b"].active = False
    with pytest.raises(AccessDenied):
        access.check_task_assignee(people["manager"], people["rep_b"])


# Reassigning an existing task of rep_a's: (actor, new assignee, outcome).
REASSIGN = [
    ("manager", "rep_b", "ok"), ("admin", "rep_porto", "ok"), ("manager", "rep_porto", "denied"),
    ("rep_a", "rep_b", "denied"), ("manager_porto", "rep_porto", "not_found"), ("rep_b", "rep_b", "not_found"),
]


@pytest.mark.parametrize(("actor", "to", "outcome"), REASSIGN)
def test_reassigning_is_for_managers_within_their_team(org, actor, to, outcome):
    people, leads = org
    task = service.create_task(people["rep_a"], title="Call", due_at=DUE, lead_id=leads["a"].id)
    if outcome == "not_found":
        with pytest.raises(NotFound):
            access.get_task(people[actor], task.id)
        return
    seen = access.get_task(people[actor], task.id)
    if outcome == "ok":
        service.reassign_task(seen, actor=people[actor], assignee_id=people[to].id)
        assert task.assignee_id == people[to].id
    else:
        with pytest.raises(AccessDenied):
            service.reassign_task(seen, actor=people[actor], assignee_id=people[to].id)
        assert task.assignee_id == people["rep_a"].id


def test_complete_then_nothing_more_changes(org):
    people, leads = org
    task = service.create_task(people["rep_a"], title="Call", due_at=DUE, lead_id=leads["a"].id)
    with time_machine.travel(DUE, tick=False):
        service.complete_task(task, actor=people["rep_a"])
    assert task.status == TaskStatus.DONE and task.completed_at == DUE
    for change in (lambda: service.complete_task(task, actor=people["rep_a"]),
                   lambda: service.reschedule_task(task, actor=people["rep_a"], due_at=DUE)):
        with pytest.raises(Conflict):
            change()


def test_reschedule_needs_a_zoned_time(org):
    people, leads = org
    task = service.create_task(people["rep_a"], title="Call", due_at=DUE, lead_id=leads["a"].id)
    later = datetime.fromisoformat("2026-11-25T15:30:00+09:00")
    service.reschedule_task(task, actor=people["rep_a"], due_at=later)
    assert task.due_at == later and task.due_at.utcoffset().total_seconds() == 0
    with pytest.raises(ValidationFailed):
        service.reschedule_task(task, actor=people["rep_a"], due_at=datetime(2026, 11, 25, 15, 30))


def test_overdue_is_open_and_past_due(org):
    people, leads = org
    task = service.create_task(people["rep_a"], title="Call", due_at=DUE, lead_id=leads["a"].id)
    assert service.is_overdue(task, DUE.replace(minute=1)) and not service.is_overdue(task, DUE)


def test_a_new_calendar_secret_replaces_the_old(org):
    people, _ = org
    old = service.calendar_secret(people["rep_a"])
    new = service.regenerate_calendar_secret(people["rep_a"])
    assert new != old and len(new) >= 32
    assert service.user_by_calendar_secret(old) is None and service.user_by_calendar_secret(new) == people["rep_a"]


def test_the_reassign_menu_offers_only_whom_you_may_give_tasks_to(org, db_session):
    people, _ = org
    names = {who: {u.id for u in db_session.scalars(access.task_assignees(people[who]))} for who in people}
    lisbon = {people[k].id for k in ("rep_a", "rep_b", "field", "manager")}
    assert names["manager"] == lisbon
    assert names["rep_a"] == {people["rep_a"].id}
    assert names["admin"] == {u.id for u in people.values()}
    for who, ids in names.items():  # the menu and the rule agree
        for user in people.values():
            allowed = user.id in ids
            try:
                access.check_task_assignee(people[who], user)
            except AccessDenied:
                assert not allowed, (who, user)
            else:
                assert allowed, (who, user)
