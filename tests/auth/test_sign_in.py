"""Sign-in, sign-out, password rules, rate limiting and cookies."""

from __future__ import annotations

import pytest

from crm.auth.models import Role
from crm.auth.service import authenticate, create_user, password_problem
from crm.errors import Conflict, ValidationFailed
from tests import factories as f


def test_sign_in_with_right_password_lands_on_dashboard(client, db_session):
    u = f.user(Role.MANAGER, team=f.team())
    resp = client.post("/login", data={"email": u.email, "password": f.PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200 and u.name.encode() in page.data


def test_wrong_password_is_refused_beside_the_field(client, db_session):
    u = f.user()
    resp = client.post("/login", data={"email": u.email, "password": "wrong password!"})
    assert resp.status_code == 422
    assert b"Wrong email or password." in resp.data and b"invalid-feedback" in resp.data
    assert client.get("/").status_code == 302


def test_unknown_email_gets_the_same_answer(client, db_session):
    resp = client.post("/login", data={"email": "nobody@example.com", "password": "whatever-password"})
    assert resp.status_code == 422 and b"Wrong email or password." in resp.data


def test_deactivated_user_cannot_sign_in(db_session):
    u = f.user(active=False)
    assert authenticate(u.email, f.PASSWORD) is None


def test_pages_need_sign_in(client, db_session):
    resp = client.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_next_parameter_cannot_leave_the_site(client, db_session):
    u = f.user()
    resp = client.post("/login?next=//evil.example/x", data={"email": u.email, "password": f.PASSWORD})
    assert resp.headers["Location"] == "/"


def test_sign_out(client, db_session):
    u = f.user()
    client.post("/login", data={"email": u.email, "password": f.PASSWORD})
    resp = client.post("/logout")
    assert resp.status_code == 302
    assert client.get("/").status_code == 302


def test_sign_in_attempts_are_rate_limited(client, db_session, app):
    u = f.user()
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    for _ in range(limit):
        client.post("/login", data={"email": u.email, "password": "wrong password!"})
    resp = client.post("/login", data={"email": u.email, "password": f.PASSWORD})
    assert resp.status_code == 429
    assert b"Too many attempts" in resp.data


def test_session_cookie_is_httponly_and_samesite(client, db_session):
    u = f.user()
    resp = client.post("/login", data={"email": u.email, "password": f.PASSWORD})
    cookie = next(v for k, v in resp.headers.items() if k == "Set-Cookie" and v.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_password_is_stored_as_argon2(db_session):
    u = create_user("new.rep@example.com", "a-long-passphrase", "rep", team="Porto")
    assert u.password_hash.startswith("$argon2")
    assert u.team.name == "Porto"


@pytest.mark.parametrize("password", ["", "   ", "short", "password123", "aaaaaaaaaaaa"])
def test_weak_passwords_are_refused(db_session, password):
    with pytest.raises(ValidationFailed) as exc:
        create_user("weak@example.com", password, "rep")
    assert "password" in exc.value.fields
    assert password_problem(password) is not None


def test_duplicate_email_is_refused(db_session):
    create_user("twice@example.com", "a-long-passphrase", "rep")
    with pytest.raises(Conflict):
        create_user("TWICE@example.com", "a-long-passphrase", "rep")


def test_unknown_role_is_refused(db_session):
    with pytest.raises(ValidationFailed) as exc:
        create_user("role@example.com", "a-long-passphrase", "boss")
    assert "role" in exc.value.fields


def test_csrf_is_required_when_enabled(database):
    from tests.conftest import make_app

    app = make_app(database, WTF_CSRF_ENABLED=True)
    resp = app.test_client().post("/login", data={"email": "a@example.com", "password": "x"})
    assert resp.status_code == 400
    assert b"The form expired" in resp.data


def test_the_api_skips_the_rate_limiter_and_pages_keep_it(app):
    """The JSON API has no rate limits, so the limiter does no work for it; page endpoints still go through it
    (the sign-in limit above)."""
    from crm.extensions import _not_rate_limited

    with app.test_request_context("/api/v1/me"):
        assert _not_rate_limited()
    with app.test_request_context("/login", method="POST"):
        assert not _not_rate_limited()
