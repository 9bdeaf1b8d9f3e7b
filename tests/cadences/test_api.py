"""/api/v1/cadences and /api/v1/leads/<id>/cadence."""

from __future__ import annotations

from datetime import UTC, datetime

from tests import factories as f
from tests.api_helpers import Api
from tests.cadences.helpers import call, default_cadence_in_place, new_lead


def test_the_default_cadence_and_a_leads_place_in_it(client, db_session):
    default_cadence_in_place()
    rep = f.user()
    lead = new_lead(datetime(2026, 3, 28, 10, 30, tzinfo=UTC), "Europe/Lisbon", owner=rep)
    call(lead, datetime(2026, 3, 28, 10, 31, tzinfo=UTC))
    api = Api(client, rep)
    [cadence] = api.get("/cadences").get_json()["items"]
    assert cadence["is_default"] and [s["channel"] for s in cadence["steps"]] == ["call", "call", "call", "email"]
    assert cadence["steps"][1]["window_start"] == "14:00:00"
    body = api.get(f"/leads/{lead.id}/cadence").get_json()
    assert body["state"] == "active" and body["step_position"] == 1
    assert body["next_step_at"].startswith("2026-03-29T13:00:00")
    other = Api(client, f.user())
    assert other.get(f"/leads/{lead.id}/cadence").status_code == 404


def test_a_lead_outside_any_cadence_answers_not_enrolled(client, db_session):
    rep = f.user()
    lead = f.lead(rep)
    resp = Api(client, rep).get(f"/leads/{lead.id}/cadence")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_enrolled"
