"""/api/v1/touches: logging is idempotent per provider id; outcomes fit the channel."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.auth.models import Role
from crm.touches.models import Touch
from tests import factories as f
from tests.api_helpers import Api


def test_repeated_external_id_answers_200_with_the_same_touch(client, db_session):
    rep = f.user(Role.REP, f.team())
    lead = f.lead(rep)
    api = Api(client, rep)
    body = {"lead_id": lead.id, "channel": "call", "direction": "outbound", "outcome": "connected",
            "talk_seconds": 125, "provider": "dialler", "external_id": "call-42", "occurred_at": "2026-11-20T10:00:00Z"}
    first = api.post("/touches", body)
    assert first.status_code == 201, first.json
    second = api.post("/touches", {**body, "talk_seconds": 999})
    assert second.status_code == 200 and second.json["id"] == first.json["id"] and second.json["talk_seconds"] == 125
    assert db_session.scalar(select(func.count()).select_from(Touch)) == 1
    db_session.expire_all()
    assert lead.first_touch_at is not None


def test_bad_touches_are_refused_with_field_paths(client, db_session):
    rep = f.user(Role.REP, f.team())
    lead = f.lead(rep)
    api = Api(client, rep)
    cases = [
        ({"lead_id": lead.id, "channel": "call", "direction": "outbound", "outcome": "opened"}, "outcome"),
        ({"lead_id": lead.id, "channel": "fax", "direction": "outbound"}, "channel"),
        ({"lead_id": lead.id, "channel": "call", "direction": "sideways"}, "direction"),
        ({"lead_id": lead.id, "channel": "call", "direction": "outbound", "talk_seconds": -1}, "talk_seconds"),
        ({"lead_id": lead.id, "channel": "call", "direction": "outbound", "talk_seconds": "long"}, "talk_seconds"),
        ({"channel": "call", "direction": "outbound"}, "contact_id"),
        ({"lead_id": lead.id, "channel": "call", "direction": "outbound", "occurred_at": "2026-11-20T10:00:00"},
         "occurred_at"),
    ]
    for body, field in cases:
        resp = api.post("/touches", body)
        assert resp.status_code == 422, (body, resp.json)
        assert field in resp.json["error"]["fields"], (body, resp.json)
    assert db_session.scalar(select(func.count()).select_from(Touch)) == 0


def test_touches_on_invisible_leads_are_404_and_lists_are_scoped(client, db_session):
    team = f.team()
    rep, other = f.user(Role.REP, team), f.user(Role.REP, team)
    theirs, mine = f.lead(other), f.lead(rep)
    api = Api(client, rep)
    assert api.post("/touches", {"lead_id": theirs.id, "channel": "call", "direction": "outbound"}).status_code == 404
    assert api.post("/touches", {"contact_id": theirs.contact_id, "channel": "sms",
                                 "direction": "outbound"}).status_code == 404
    created = api.post("/touches", {"contact_id": mine.contact_id, "channel": "sms", "direction": "outbound",
                                    "outcome": "sent", "body": "Olá!"})
    assert created.status_code == 201
    other_touch = Api(client, other).post("/touches", {"lead_id": theirs.id, "channel": "email",
                                                       "direction": "outbound", "outcome": "sent"}).json
    listed = [t["id"] for t in api.get("/touches").json["items"]]
    assert listed == [created.json["id"]]
    assert api.get(f"/touches/{other_touch['id']}").status_code == 404
    assert [t["channel"] for t in api.get("/touches", channel="sms").json["items"]] == ["sms"]
