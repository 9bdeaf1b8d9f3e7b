"""Bearer tokens for /api/v1, stored only as hashes; the shared JSON error shape."""

from __future__ import annotations

from sqlalchemy import select

from crm.auth.models import ApiToken, Role
from tests import factories as f


def test_me_answers_the_tokens_user(client, db_session):
    team = f.team("Lisbon")
    u = f.user(Role.REP, team=team)
    resp = client.get("/api/v1/me", headers={"Authorization": f"Bearer {f.token(u)}"})
    assert resp.status_code == 200
    assert resp.json == {"id": u.id, "email": u.email, "name": u.name, "role": "rep",
                         "team": {"id": team.id, "name": "Lisbon"}, "timezone": "UTC", "locale": "en"}


def test_only_a_hash_of_the_token_is_stored(db_session):
    u = f.user()
    token = f.token(u)
    stored = db_session.scalars(select(ApiToken.token_hash)).all()
    assert token not in stored and len(stored[0]) == 64


def test_missing_token_is_401_with_error_shape(client, db_session):
    resp = client.get("/api/v1/me")
    assert resp.status_code == 401
    assert resp.json["error"]["code"] == "unauthorized"
    assert set(resp.json["error"]) == {"code", "message", "fields"}


def test_unknown_token_is_401(client, db_session):
    resp = client.get("/api/v1/me", headers={"Authorization": "Bearer tl_nope"})
    assert resp.status_code == 401


def test_revoked_token_is_401(client, db_session):
    from crm.db import utcnow

    u = f.user()
    token = f.token(u)
    db_session.scalar(select(ApiToken)).revoked_at = utcnow()
    db_session.flush()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_deactivated_users_token_is_401(client, db_session):
    u = f.user(active=False)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {f.token(u)}"}).status_code == 401


def test_unknown_api_path_is_json_404(client, db_session):
    u = f.user()
    resp = client.get("/api/v1/nothing-here", headers={"Authorization": f"Bearer {f.token(u)}"})
    assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"


def test_openapi_document_is_public_and_lists_me(client, db_session):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    assert resp.json["openapi"].startswith("3.1")
    assert "/api/v1/me" in resp.json["paths"]


def test_a_tokens_last_use_is_written_at_most_once_a_minute(client, db_session):
    from datetime import UTC, datetime

    import time_machine

    u = f.user()
    headers = {"Authorization": f"Bearer {f.token(u)}"}
    row = db_session.scalar(select(ApiToken))
    with time_machine.travel(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), tick=False):
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    db_session.refresh(row)
    assert row.last_used_at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with time_machine.travel(datetime(2026, 12, 1, 9, 0, 50, tzinfo=UTC), tick=False):
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    db_session.refresh(row)
    assert row.last_used_at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 50 s later: not written again
    with time_machine.travel(datetime(2026, 12, 1, 9, 1, 30, tzinfo=UTC), tick=False):
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    db_session.refresh(row)
    assert row.last_used_at == datetime(2026, 12, 1, 9, 1, 30, tzinfo=UTC)
