"""The access rules as a matrix: who sees which lead, contact, task and report."""

from __future__ import annotations

import pytest

from crm import access
from crm.auth.models import Role
from crm.errors import AccessDenied, NotFound
from crm.handoffs.models import Handoff, HandoffStatus
from crm.tasks.models import Task
from tests import factories as f


@pytest.fixture
def org(db_session):
    lisbon, porto = f.team("Lisbon"), f.team("Porto")
    people = {
        "rep_a": f.user(Role.REP, lisbon), "rep_b": f.user(Role.REP, lisbon), "rep_porto": f.user(Role.REP, porto),
        "field": f.user(Role.FIELD, lisbon), "field_other": f.user(Role.FIELD, lisbon),
        "manager": f.user(Role.MANAGER, lisbon), "manager_porto": f.user(Role.MANAGER, porto),
        "admin": f.user(Role.ADMIN),
    }
    leads = {
        "own_a": f.lead(people["rep_a"]),
        "own_b": f.lead(people["rep_b"]),
        "pool_lisbon": f.lead(None, team_obj=lisbon),
        "pool_porto": f.lead(None, team_obj=porto),
        "own_porto": f.lead(people["rep_porto"]),
        "handed": f.lead(people["rep_b"]),
    }
    db_session.add(Handoff(lead=leads["handed"], from_user_id=people["rep_b"].id, to_user_id=people["field"].id,
                           status=HandoffStatus.PENDING))
    db_session.flush()
    return people, leads


VISIBLE = {
    "rep_a": {"own_a", "pool_lisbon"},
    "rep_b": {"own_b", "pool_lisbon", "handed"},
    "rep_porto": {"own_porto", "pool_porto"},
    "field": {"handed"},
    "field_other": set(),
    "manager": {"own_a", "own_b", "pool_lisbon", "handed"},
    "manager_porto": {"own_porto", "pool_porto"},
    "admin": {"own_a", "own_b", "pool_lisbon", "pool_porto", "own_porto", "handed"},
}


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_lead_visibility_matrix(org, db_session, who):
    people, leads = org
    user = people[who]
    seen = set(db_session.scalars(access.visible_leads(user)).all())
    assert {name for name, lead in leads.items() if lead in seen} == VISIBLE[who]
    for name, lead in leads.items():
        if name in VISIBLE[who]:
            assert access.get_lead(user, lead.id) is lead
        else:
            with pytest.raises(NotFound):
                access.get_lead(user, lead.id)


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_contact_visibility_follows_leads(org, db_session, who):
    people, leads = org
    for name, lead in leads.items():
        if name in VISIBLE[who]:
            assert access.get_contact(people[who], lead.contact_id).id == lead.contact_id
        else:
            with pytest.raises(NotFound):
                access.get_contact(people[who], lead.contact_id)


def test_field_rep_sees_handed_lead_but_changes_it_only_once_owner(org, db_session):
    people, leads = org
    with pytest.raises(AccessDenied):
        access.get_lead(people["field"], leads["handed"].id, for_change=True)
    leads["handed"].field_owner_id = people["field"].id
    db_session.flush()
    assert access.get_lead(people["field"], leads["handed"].id, for_change=True) is leads["handed"]


def test_lost_pool_lead_leaves_the_pool(org, db_session):
    people, leads = org
    from crm.leads.service import mark_lost

    mark_lost(leads["pool_lisbon"], actor=people["manager"], reason=f.lost_reason().id)
    db_session.flush()
    with pytest.raises(NotFound):
        access.get_lead(people["rep_a"], leads["pool_lisbon"].id)


def test_task_visibility(org, db_session):
    people, leads = org
    from crm.db import utcnow

    tasks = {who: Task(title="Call back", lead=leads["own_a"], assignee_id=people[who].id, due_at=utcnow())
             for who in ("rep_a", "rep_b", "rep_porto")}
    db_session.add_all(tasks.values())
    db_session.flush()
    seen = lambda u: set(db_session.scalars(access.visible_tasks(u)).all())  # noqa: E731
    assert seen(people["rep_a"]) == {tasks["rep_a"]}
    assert seen(people["manager"]) == {tasks["rep_a"], tasks["rep_b"]}
    assert seen(people["admin"]) == set(tasks.values())
    with pytest.raises(NotFound):
        access.get_task(people["rep_b"], tasks["rep_a"].id)


def test_report_scope(org):
    people, _ = org
    assert access.report_scope(people["rep_a"]) == {"team_id": None, "rep_id": people["rep_a"].id}
    with pytest.raises(NotFound):
        access.report_scope(people["rep_a"], rep_id=people["rep_b"].id)
    assert access.report_scope(people["manager"], rep_id=people["rep_b"].id)["team_id"] == people["manager"].team_id
    with pytest.raises(NotFound):
        access.report_scope(people["manager"], rep_id=people["rep_porto"].id)
    with pytest.raises(NotFound):
        access.report_scope(people["manager"], team_id=people["rep_porto"].team_id)
    assert access.report_scope(people["admin"], team_id=5) == {"team_id": 5, "rep_id": None}


def test_a_users_conditions_are_built_once_and_follow_a_move_to_another_team_or_role(org, db_session):
    """The rules' SQL conditions are kept per user (id, role, team); moving a rep to another team, or
    making them a manager, gives them the new team's leads at once."""
    from sqlalchemy import select

    from crm.leads.models import Lead

    people, leads = org
    rep = people["rep_a"]

    def seen():
        return {name for name, lead in leads.items()
                if db_session.scalar(select(Lead.id).where(Lead.id == lead.id, access.lead_visibility(rep)))}

    assert access.lead_visibility(rep) is access.lead_visibility(rep)
    assert seen() == {"own_a", "pool_lisbon"}
    rep.team_id = people["rep_porto"].team_id
    db_session.flush()
    assert seen() == {"own_a", "pool_porto"}
    rep.role = Role.MANAGER
    db_session.flush()
    assert seen() == {"own_a", "pool_porto", "own_porto"}  # own_a: its owner (now this manager) is in Porto
