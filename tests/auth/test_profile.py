"""Users choose their own language and time zone, and change their password."""

from __future__ import annotations

from crm.auth.service import authenticate
from tests import factories as f


def _sign_in(client, user):
    client.post("/login", data={"email": user.email, "password": f.PASSWORD})


def test_profile_saves_language_and_zone(client, db_session):
    u = f.user()
    _sign_in(client, u)
    resp = client.post("/profile", data={"name": "Ana Reis", "locale": "pt", "timezone": "Asia/Tokyo"})
    assert resp.status_code == 302
    db_session.expire_all()
    assert (u.name, u.locale, u.timezone) == ("Ana Reis", "pt", "Asia/Tokyo")


def test_unknown_zone_is_refused_beside_the_field(client, db_session):
    u = f.user()
    _sign_in(client, u)
    resp = client.post("/profile", data={"name": u.name, "locale": "en", "timezone": "Lisbon"})
    assert resp.status_code == 422 and b"IANA" in resp.data


def test_password_change_needs_the_current_one(client, db_session):
    u = f.user()
    _sign_in(client, u)
    bad = client.post("/profile", data={"name": u.name, "locale": "en", "timezone": "UTC",
                                        "current_password": "wrong one!", "new_password": "a-new-passphrase"})
    assert bad.status_code == 422 and b"current password is not right" in bad.data
    weak = client.post("/profile", data={"name": u.name, "locale": "en", "timezone": "UTC",
                                         "current_password": f.PASSWORD, "new_password": "short"})
    assert weak.status_code == 422 and b"Use at least 10 characters." in weak.data
    ok = client.post("/profile", data={"name": u.name, "locale": "en", "timezone": "UTC",
                                       "current_password": f.PASSWORD, "new_password": "a-new-passphrase"})
    assert ok.status_code == 302
    assert authenticate(u.email, "a-new-passphrase") is not None
