"""/api/v1/reports/…: the figures as JSON, scoped by role, and bad parameters with field paths."""

from __future__ import annotations

import pytest
import time_machine

from tests import factories
from tests.api_helpers import Api
from tests.reports.builders import lead_at, touch, utc


@pytest.fixture
def org(db_session):
    north, south = factories.team("North"), factories.team("South")
    people = {
        "admin": factories.user("admin"),
        "manager": factories.user("manager", team=north),
        "ana": factories.user("rep", team=north, name="Ana"),
        "bo": factories.user("rep", team=north, name="Bo"),
        "sul": factories.user("rep", team=south, name="Sul"),
    }
    for name in ("ana", "bo", "sul"):
        lead = lead_at(people[name], utc(2026, 6, 2, 9))
        touch(people[name], lead, "call", "outbound", "connected", utc(2026, 6, 2, 10), talk_seconds=60)
    return {"north": north, "south": south, **people}


WEEK = {"date_from": "2026-06-01", "date_to": "2026-06-07"}


@time_machine.travel(utc(2026, 6, 8, 12), tick=False)
@pytest.mark.parametrize(("who", "created", "reps"), [
    ("admin", 3, ["Ana", "Bo", "Sul"]), ("manager", 2, ["Ana", "Bo"]), ("ana", 1, ["Ana"])])
def test_each_role_sees_its_scope(client, org, who, created, reps):
    api = Api(client, org[who])
    funnel = api.get("/reports/funnel", **WEEK)
    assert funnel.status_code == 200
    assert funnel.json["current"]["created"] == created
    assert funnel.json["period"] == {"date_from": "2026-06-01", "date_to": "2026-06-07", "time_zone": "UTC"}
    assert funnel.json["previous_period"]["date_from"] == "2026-05-25"
    activity = api.get("/reports/activity", **WEEK)
    assert [r["name"] for r in activity.json["reps"] if r["current"]["outbound_calls"]] == reps
    assert activity.json["total"]["current"]["connects"] == created


@time_machine.travel(utc(2026, 6, 8, 12), tick=False)
@pytest.mark.parametrize(("who", "params"), [
    ("manager", {"team_id": "south"}), ("manager", {"rep_id": "sul"}), ("ana", {"rep_id": "bo"})])
def test_asking_beyond_the_scope_is_not_found(client, org, who, params):
    query = {k: org[v].id for k, v in params.items()}
    resp = Api(client, org[who]).get("/reports/activity", **WEEK, **query)
    assert resp.status_code == 404
    assert resp.json["error"]["code"] == "not_found"


@time_machine.travel(utc(2026, 6, 8, 12), tick=False)
def test_a_rep_asking_for_the_team_still_gets_only_their_own(client, org):
    resp = Api(client, org["ana"]).get("/reports/funnel", **WEEK, team_id=org["north"].id)
    assert resp.json["scope"] == {"team_id": None, "rep_id": org["ana"].id}
    assert resp.json["current"]["created"] == 1


@time_machine.travel(utc(2026, 6, 8, 12), tick=False)
def test_admin_filters_by_team(client, org):
    resp = Api(client, org["admin"]).get("/reports/funnel", **WEEK, team_id=org["south"].id)
    assert resp.json["current"]["created"] == 1
    assert resp.json["scope"] == {"team_id": org["south"].id, "rep_id": None}


@pytest.mark.parametrize(("params", "field"), [
    ({"date_from": "2026-13-01"}, "date_from"),
    ({"date_from": "2026-06-07", "date_to": "2026-06-01"}, "date_to"),
    ({"date_from": "2020-01-01", "date_to": "2026-01-01"}, "date_to"),
    ({"team_id": "0"}, "team_id"),
    ({"channel": "pigeon"}, "channel"),
    ({"colour": "red"}, "colour"),
])
def test_bad_report_parameters_name_the_field(client, org, params, field):
    resp = Api(client, org["manager"]).get("/reports/funnel", **params)
    assert resp.status_code == 422
    assert resp.json["error"]["code"] == "validation_error"
    assert field in resp.json["error"]["fields"]


def test_empty_period_answers_nulls_not_errors(client, org):
    resp = Api(client, org["manager"]).get("/reports/inbound", date_from="2030-01-01", date_to="2030-01-31")
    assert resp.status_code == 200
    assert resp.json["current"]["offered"] == 0
    assert resp.json["current"]["service_level"] is None
    assert resp.json["current"]["answer_within_seconds"] == 20


def test_cost_money_is_exact_decimal_text(client, org):
    resp = Api(client, org["admin"]).get("/reports/cost", **WEEK)
    assert resp.status_code == 200
    assert resp.json["current"]["call_labour"] == "0.00"


def test_staffing_answers_the_erlang_c_plan(client, org):
    resp = Api(client, org["manager"]).get("/reports/staffing", calls=100, interval_minutes=30, aht_seconds=180,
                                           answer_within_seconds=20, target_service_level=0.8, shrinkage=0.3)
    assert resp.status_code == 200
    plan = resp.json["plan"]
    assert (plan["agents"], plan["positions"]) == (14, 20)
    assert plan["service_level"] == pytest.approx(0.8884, abs=1e-4)
    assert plan["asa_seconds"] == pytest.approx(7.83, abs=0.01)
    assert plan["occupancy"] == pytest.approx(0.7143, abs=1e-4)
    assert plan["probability_of_waiting"] == pytest.approx(0.1741, abs=1e-4)


@pytest.mark.parametrize(("params", "field"), [
    ({}, "calls"),
    ({"calls": 100}, "aht_seconds"),
    ({"calls": -1, "aht_seconds": 180}, "calls"),
    ({"calls": 100, "aht_seconds": 180, "target_service_level": 1}, "target_service_level"),
    ({"calls": 100, "aht_seconds": 180, "shrinkage": 1}, "shrinkage"),
    ({"calls": 100, "aht_seconds": 180, "max_occupancy": 0}, "max_occupancy"),
    ({"calls": 1_000_000, "aht_seconds": 86_400, "interval_minutes": 1}, "calls"),
    ({"date": "yesterday"}, "date"),
    ({"date": "2026-06-08", "weeks": 13}, "weeks"),
])
def test_bad_staffing_parameters_name_the_field(client, org, params, field):
    resp = Api(client, org["manager"]).get("/reports/staffing", **params)
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["code"] == "validation_error"
    assert field in resp.json["error"]["fields"]


def test_reps_cannot_use_the_staffing_planner(client, org):
    resp = Api(client, org["ana"]).get("/reports/staffing", calls=10, aht_seconds=180)
    assert resp.status_code == 403
    assert resp.json["error"]["code"] == "forbidden"


def test_staffing_forecast_averages_the_same_weekday(client, org):
    ana = org["ana"]
    lead = lead_at(ana, utc(2026, 5, 1, 9))
    # Mondays 1, 8 and 15 June at 09:10 UTC: 4, 2 and 0 calls; the forecast is for Monday 22 June.
    for day, n in ((15, 4), (8, 2)):
        for k in range(n):
            touch(ana, lead, "call", "inbound", "connected", utc(2026, 6, day, 9, 10 + k), talk_seconds=170,
                  wrap_seconds=10, queue_seconds=5)
    touch(ana, lead, "call", "inbound", "connected", utc(2026, 6, 16, 9, 10), talk_seconds=900)  # a Tuesday
    resp = Api(client, org["manager"]).get("/reports/staffing", date="2026-06-22", weeks=3)
    assert resp.status_code == 200
    intervals = resp.json["intervals"]
    assert len(intervals) == 48
    nine = intervals[18]
    assert nine["starts_at"] == "2026-06-22T09:00:00+00:00"
    assert nine["calls"] == 2.0  # (4 + 2 + 0) / 3
    assert nine["aht_seconds"] == 180.0
    assert nine["agents"] >= 1
    assert intervals[17]["agents"] == 0
    assert "staffing" in client.get("/api/v1/openapi.json").json["paths"]["/api/v1/reports/staffing"]["get"][
        "operationId"]


@time_machine.travel(utc(2026, 6, 8, 12), tick=False)
@pytest.mark.parametrize("report", ["funnel", "activity", "inbound", "cost"])
def test_every_filter_together_narrows_without_error(client, org, report):
    campaign = factories.campaign(org["north"])
    lead = lead_at(org["ana"], utc(2026, 6, 3, 9), campaign=campaign, source="web")
    touch(org["ana"], lead, "call", "outbound", "connected", utc(2026, 6, 3, 10), talk_seconds=30)
    source_id = lead.source_id
    resp = Api(client, org["admin"]).get(f"/reports/{report}", **WEEK, team_id=org["north"].id,
                                         rep_id=org["ana"].id, source_id=source_id, campaign_id=campaign.id,
                                         channel="call")
    assert resp.status_code == 200, resp.json
    if report == "funnel":
        assert resp.json["current"]["created"] == 1
    if report == "activity":
        assert resp.json["total"]["current"]["outbound_calls"] == 1
    if report == "cost":
        assert [c["id"] for c in resp.json["campaigns"]] == [campaign.id]


@pytest.mark.parametrize("value", ["-1", "3601", "soon"])
def test_bad_service_level_threshold_names_the_field(client, org, value):
    resp = Api(client, org["manager"]).get("/reports/inbound", answer_within_seconds=value)
    assert resp.status_code == 422
    assert list(resp.json["error"]["fields"]) == ["answer_within_seconds"]


def test_reports_are_in_the_openapi_document(client, org):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for name in ("funnel", "activity", "inbound", "cost", "staffing"):
        assert "get" in paths[f"/api/v1/reports/{name}"]
    params = {p["name"] for p in paths["/api/v1/reports/staffing"]["get"]["parameters"]}
    assert {"calls", "interval_minutes", "aht_seconds", "answer_within_seconds", "target_service_level",
            "shrinkage", "max_occupancy"} <= params
