"""Admins manage users, teams and lost reasons; nobody else may."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.audit.models import AuditEvent
from crm.auth.models import Role, User
from crm.leads.models import LostReason
from tests import factories as f


def _sign_in(client, user):
    client.post("/login", data={"email": user.email, "password": f.PASSWORD})


@pytest.mark.parametrize("role", [Role.REP, Role.FIELD, Role.MANAGER])
def test_non_admins_get_403(client, db_session, role):
    _sign_in(client, f.user(role, f.team()))
    for path in ("/admin/", "/admin/users", "/admin/users/new", "/admin/teams", "/admin/lost-reasons"):
        assert client.get(path).status_code == 403


def test_admin_creates_a_user_with_team(client, db_session):
    team = f.team("Porto")
    _sign_in(client, f.user(Role.ADMIN))
    resp = client.post("/admin/users/new", data={
        "email": "nuno@example.com", "name": "Nuno", "role": "rep", "team_id": str(team.id),
        "timezone": "Europe/Lisbon", "locale": "pt", "hourly_cost": "21.50", "capacity": "40",
        "password": "a-long-passphrase"})
    assert resp.status_code == 302
    user = db_session.scalar(select(User).where(User.email == "nuno@example.com"))
    assert (user.team, user.capacity, str(user.hourly_cost), user.locale) == (team, 40, "21.50", "pt")


@pytest.mark.parametrize("data, field, message", [
    ({"password": "short"}, "password", b"Use at least 10 characters."),
    ({"timezone": "Mars/Olympus"}, "timezone", b"IANA"),
    ({"email": "not-an-email"}, "email", b"Invalid email address."),
])
def test_bad_user_input_is_shown_beside_the_field(client, db_session, data, field, message):
    _sign_in(client, f.user(Role.ADMIN))
    form = {"email": "x@example.com", "name": "X", "role": "rep", "team_id": "", "timezone": "UTC", "locale": "en",
            "hourly_cost": "0", "password": "a-long-passphrase"}
    form.update(data)
    resp = client.post("/admin/users/new", data=form)
    assert resp.status_code == 422 and message in resp.data
    assert db_session.scalar(select(User).where(User.email == "x@example.com")) is None


def test_admin_deactivates_a_user_and_it_is_audited(client, db_session):
    admin, rep = f.user(Role.ADMIN), f.user(Role.REP)
    _sign_in(client, admin)
    resp = client.post(f"/admin/users/{rep.id}", data={
        "email": rep.email, "name": rep.name, "role": "rep", "team_id": "", "timezone": "UTC", "locale": "en",
        "hourly_cost": "0"})
    assert resp.status_code == 302
    db_session.expire_all()
    assert rep.active is False
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "user.updated"))
    assert event.actor_id == admin.id and event.changes == {"active": False}


def test_admin_cannot_demote_themselves(client, db_session):
    admin = f.user(Role.ADMIN)
    _sign_in(client, admin)
    resp = client.post(f"/admin/users/{admin.id}", data={
        "email": admin.email, "name": admin.name, "role": "rep", "team_id": "", "timezone": "UTC", "locale": "en",
        "hourly_cost": "0", "active": "y"})
    assert resp.status_code == 422 and b"Ask another admin." in resp.data


def test_team_settings_with_range_checks(client, db_session):
    team = f.team("Lisbon")
    _sign_in(client, f.user(Role.ADMIN))
    base = {"name": "Lisbon", "timezone": "Europe/Lisbon", "speed_to_lead_seconds": "300", "handoff_sla_hours": "8",
            "handoff_min_criteria": "3", "handoff_rule": "territory", "pool_mode": "y"}
    assert client.post(f"/admin/teams/{team.id}", data=base).status_code == 302
    db_session.expire_all()
    assert team.pool_mode and team.handoff_rule.value == "territory"
    bad = client.post(f"/admin/teams/{team.id}", data={**base, "handoff_min_criteria": "9"})
    assert bad.status_code == 422


def test_lost_reasons_added_retired_and_duplicates_refused(client, db_session):
    _sign_in(client, f.user(Role.ADMIN))
    assert client.post("/admin/lost-reasons", data={"label": "Moved abroad"}).status_code == 302
    dup = client.post("/admin/lost-reasons", data={"label": "moved abroad"})
    assert dup.status_code == 422 and b"Already on the list." in dup.data
    reason = db_session.scalar(select(LostReason).where(LostReason.label == "Moved abroad"))
    client.post(f"/admin/lost-reasons/{reason.id}/toggle")
    db_session.expire_all()
    assert reason.active is False
