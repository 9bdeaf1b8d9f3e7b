"""/admin/integrations: admins create, deactivate and rotate; every change audited; nobody else may."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from crm.audit.models import AuditEvent
from crm.auth.models import Role
from crm.integrations.models import Integration, IntegrationChannel
from crm.integrations.signing import secrets_in_force
from tests import factories as f
from tests.integrations.conftest import make_integration

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _sign_in(client, user):
    client.post("/login", data={"email": user.email, "password": f.PASSWORD})


@pytest.mark.parametrize(("role", "status"), [(Role.REP, 403), (Role.FIELD, 403), (Role.MANAGER, 403),
                                              (Role.ADMIN, 200), (None, 302)])
def test_only_admins_reach_the_page_and_its_actions(client, db_session, role, status):
    integration = make_integration()
    if role is not None:
        _sign_in(client, f.user(role, f.team()))
    assert client.get("/admin/integrations").status_code == status
    posts = {"/admin/integrations": {"name": "X", "channel": "calls"},
             f"/admin/integrations/{integration.id}/active": {},
             f"/admin/integrations/{integration.id}/rotate": {"overlap_hours": "1"}}
    for path, data in posts.items():
        code = client.post(path, data=data).status_code
        assert code == 302 if role is None else (code != 403 if role == Role.ADMIN else code == 403)


def test_create_shows_the_secret_once_and_audits(client, db_session):
    team = f.team("Inbound desk")
    admin = f.user(Role.ADMIN)
    _sign_in(client, admin)
    response = client.post("/admin/integrations", data={"name": "Genesys", "channel": "calls", "team_id": str(team.id)})
    assert response.status_code == 200
    integration = db_session.scalar(select(Integration).where(Integration.name == "Genesys"))
    assert (integration.channel, integration.team_id, integration.active) == (IntegrationChannel.CALLS, team.id, True)
    assert integration.secret.encode() in response.data
    assert integration.secret.encode() not in client.get("/admin/integrations").data
    audit = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "integration.created"))
    assert audit.actor_id == admin.id and "secret" not in audit.changes


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "", "channel": "calls"}, b"This field is required."),
    ({"name": "Taken", "channel": "calls"}, b"Already taken."),
])
def test_bad_create_shows_the_error_beside_the_field(client, db_session, data, message):
    make_integration(name="Taken")
    _sign_in(client, f.user(Role.ADMIN))
    response = client.post("/admin/integrations", data=data)
    assert response.status_code == 422 and message in response.data
    assert b'id="name-error"' in response.data


def test_deactivate_and_reactivate_are_audited(client, db_session):
    integration = make_integration()
    _sign_in(client, f.user(Role.ADMIN))
    client.post(f"/admin/integrations/{integration.id}/active")
    db_session.refresh(integration)
    assert integration.active is False
    client.post(f"/admin/integrations/{integration.id}/active")
    db_session.refresh(integration)
    assert integration.active is True
    actions = db_session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "integrations")
                                 .order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["integration.deactivated", "integration.activated"]


def test_rotate_keeps_the_old_secret_until_the_overlap_ends(client, db_session):
    integration = make_integration()
    old = integration.secret
    _sign_in(client, f.user(Role.ADMIN))
    with time_machine.travel(NOW, tick=False):
        response = client.post(f"/admin/integrations/{integration.id}/rotate", data={"overlap_hours": "6"})
    assert response.status_code == 200
    db_session.refresh(integration)
    new = re.search(rb'data-testid="secret" onfocus', response.data) and integration.secret
    assert new != old and new.encode() in response.data
    assert integration.previous_secret_expires_at == NOW + timedelta(hours=6)
    assert secrets_in_force(integration, NOW + timedelta(hours=5)) == [new, old]
    assert secrets_in_force(integration, NOW + timedelta(hours=6)) == [new]
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "integration.secret_rotated")) is not None


@pytest.mark.parametrize("hours", ["-1", "337", "many"])
def test_rotate_with_a_bad_overlap_changes_nothing(client, db_session, hours):
    integration = make_integration()
    old = integration.secret
    _sign_in(client, f.user(Role.ADMIN))
    assert client.post(f"/admin/integrations/{integration.id}/rotate", data={"overlap_hours": hours}).status_code == 302
    db_session.refresh(integration)
    assert integration.secret == old


def test_unknown_integration_is_404(client, db_session):
    _sign_in(client, f.user(Role.ADMIN))
    assert client.post("/admin/integrations/999/rotate", data={"overlap_hours": "1"}).status_code == 404
