"""/api/v1/leads: create, list, filter, page, change and move; bad input of every kind."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.auth.models import Role
from crm.contacts.models import Contact
from crm.leads.models import Lead
from tests import factories as f
from tests.api_helpers import Api

NEW_LEAD = {"contact": {"first_name": "Ana", "last_name": "Sousa", "email": "ana.sousa@example.pt",
                        "phone": "+351 912 345 678", "timezone": "Europe/Lisbon", "locale": "pt",
                        "account": "Sousa Lda"},
            "source": "web form", "value": "1200.50", "currency": "eur"}


@pytest.fixture
def team(db_session):
    return f.team("Lisbon")


def test_create_lead_answers_201_in_discover_with_round_robin_owner(client, db_session, team):
    rep = f.user(Role.REP, team)
    resp = Api(client, rep).post("/leads", NEW_LEAD)
    assert resp.status_code == 201, resp.json
    body = resp.json
    assert (body["stage"], body["status"], body["value"], body["currency"]) == ("discover", "open", "1200.50", "EUR")
    assert body["owner"] == {"id": rep.id, "name": rep.name} and body["source"] == "web form"
    assert body["contact_matched_on"] is None
    contact = db_session.get(Contact, body["contact"]["id"])
    assert contact.phone == "+351912345678" and contact.account.name == "Sousa Lda"


def test_same_person_is_recognised_not_duplicated(client, db_session, team):
    api = Api(client, f.user(Role.REP, team))
    api.post("/leads", NEW_LEAD)
    again = {**NEW_LEAD, "contact": {**NEW_LEAD["contact"], "email": "other@example.pt", "phone": "00351912345678"}}
    resp = api.post("/leads", again)
    assert resp.status_code == 201 and resp.json["contact_matched_on"] == "phone"
    assert db_session.scalar(select(func.count()).select_from(Contact)) == 1


def test_null_owner_goes_to_the_pool_and_others_are_refused(client, db_session, team):
    rep, other = f.user(Role.REP, team), f.user(Role.REP, team)
    api = Api(client, rep)
    pool = api.post("/leads", {**NEW_LEAD, "owner_id": None})
    assert pool.status_code == 201 and pool.json["owner"] is None
    refused = api.post("/leads", {**NEW_LEAD, "owner_id": other.id})
    assert refused.status_code == 403 and refused.json["error"]["fields"] == {"owner_id": "Not yours to assign to."}
    manager = Api(client, f.user(Role.MANAGER, team))
    assert manager.post("/leads", {**NEW_LEAD, "owner_id": other.id}).json["owner"]["id"] == other.id


@pytest.mark.parametrize("body, path", [
    ({**NEW_LEAD, "contact": {**NEW_LEAD["contact"], "email": "not-an-email"}}, "contact.email"),
    ({**NEW_LEAD, "contact": {**NEW_LEAD["contact"], "phone": "+351 12"}}, "contact.phone"),
    ({**NEW_LEAD, "contact": {**NEW_LEAD["contact"], "timezone": "Lisbon"}}, "contact.timezone"),
    ({**NEW_LEAD, "contact": {**NEW_LEAD["contact"], "first_name": ""}}, "contact.first_name"),
    ({**NEW_LEAD, "currency": "XYZ"}, "currency"),
    ({**NEW_LEAD, "value": "-5"}, "value"),
    ({**NEW_LEAD, "value": "lots"}, "value"),
    ({**NEW_LEAD, "score": "high"}, "score"),
    ({**NEW_LEAD, "colour": "red"}, "colour"),
    ({"source": "web"}, "body"),
    ({**NEW_LEAD, "contact_id": 5}, "body"),
    ({**NEW_LEAD, "campaign": "No such campaign"}, "campaign"),
])
def test_bad_input_is_422_with_the_field_path(client, db_session, team, body, path):
    resp = Api(client, f.user(Role.REP, team)).post("/leads", body)
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["code"] in ("validation_error", "invalid")
    assert path in resp.json["error"]["fields"], resp.json
    assert db_session.scalar(select(func.count()).select_from(Lead)) == 0


def test_malformed_json_wrong_type_and_huge_body(client, db_session, team, app):
    api = Api(client, f.user(Role.REP, team))
    bad = client.post("/api/v1/leads", headers={**api.headers, "Content-Type": "application/json"}, data="{nope")
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_json"
    form = client.post("/api/v1/leads", headers=api.headers, data={"a": "b"})
    assert form.status_code == 415
    huge = api.post("/leads", {**NEW_LEAD, "title": "x" * (app.config["API_MAX_BODY"] + 10)})
    assert huge.status_code == 413 and huge.json["error"]["code"] == "payload_too_large"


def test_contact_id_of_someone_elses_contact_is_404(client, db_session, team):
    mine, theirs = f.user(Role.REP, team), f.user(Role.REP, team)
    other_lead = f.lead(theirs)
    resp = Api(client, mine).post("/leads", {"contact_id": other_lead.contact_id})
    assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"


def test_list_filters_and_pages_with_a_cursor(client, db_session, team):
    rep = f.user(Role.REP, team)
    api = Api(client, rep)
    ids = [api.post("/leads", {**NEW_LEAD, "contact": {**NEW_LEAD["contact"], "email": f"p{i}@example.pt",
                                                          "phone": f"+3519123450{i:02d}"}}).json["id"] for i in range(5)]
    first = api.get("/leads", limit=2).json
    assert [i["id"] for i in first["items"]] == ids[::-1][:2] and first["next_cursor"]
    second = api.get("/leads", limit=2, cursor=first["next_cursor"]).json
    assert [i["id"] for i in second["items"]] == ids[::-1][2:4]
    last = api.get("/leads", limit=2, cursor=second["next_cursor"]).json
    assert [i["id"] for i in last["items"]] == ids[:1] and last["next_cursor"] is None
    assert len(api.get("/leads", stage="discover", status="open", source="web form").json["items"]) == 5
    assert api.get("/leads", stage="propose").json["items"] == []
    assert len(api.get("/leads", q="912345003").json["items"]) == 1
    assert api.get("/leads", cursor="garbage").status_code == 422
    assert api.get("/leads", limit=500).status_code == 422
    assert api.get("/leads", stage="sideways").json["error"]["fields"].keys() == {"stage"}


def test_list_never_shows_another_reps_leads(client, db_session, team):
    rep, other = f.user(Role.REP, team), f.user(Role.REP, team)
    mine, theirs = f.lead(rep), f.lead(other)
    ids = {i["id"] for i in Api(client, rep).get("/leads").json["items"]}
    assert mine.id in ids and theirs.id not in ids
    assert Api(client, rep).get(f"/leads/{theirs.id}").status_code == 404


def test_stage_moves_through_the_api(client, db_session, team):
    rep = f.user(Role.REP, team)
    api = Api(client, rep)
    lead = f.lead(rep)
    reason = f.lost_reason("Too expensive")
    assert api.post(f"/leads/{lead.id}/stage", {"stage": "nurture"}).json["stage"] == "nurture"
    skip = api.post(f"/leads/{lead.id}/stage", {"stage": "close"})
    assert skip.status_code == 422 and skip.json["error"]["code"] == "invalid_stage_change"
    assert api.post(f"/leads/{lead.id}/stage", {"status": "won", "value": "10"}).status_code == 422
    no_reason = api.post(f"/leads/{lead.id}/stage", {"status": "lost"})
    assert no_reason.json["error"]["fields"] == {"reason": "A reason is required."}
    lost = api.post(f"/leads/{lead.id}/stage", {"status": "lost", "reason": reason.label})
    assert lost.json["status"] == "lost" and lost.json["lost_reason"] == reason.label
    reopened = api.post(f"/leads/{lead.id}/stage", {"status": "open"})
    assert (reopened.json["stage"], reopened.json["status"]) == ("nurture", "open")
    both = api.post(f"/leads/{lead.id}/stage", {"stage": "propose", "status": "won"})
    assert both.status_code == 422
    assert api.post("/leads/999999/stage", {"stage": "nurture"}).status_code == 404


def test_field_rep_sees_handed_lead_but_may_not_change_it(client, db_session, team):
    from crm.handoffs.models import Handoff

    rep, field = f.user(Role.REP, team), f.user(Role.FIELD, team)
    lead = f.lead(rep)
    db_session.add(Handoff(lead=lead, from_user_id=rep.id, to_user_id=field.id))
    db_session.flush()
    api = Api(client, field)
    assert api.get(f"/leads/{lead.id}").status_code == 200
    assert api.patch(f"/leads/{lead.id}", {"score": 5}).status_code == 403


def test_patch_changes_details_and_validates(client, db_session, team):
    rep = f.user(Role.REP, team)
    lead = f.lead(rep)
    api = Api(client, rep)
    resp = api.patch(f"/leads/{lead.id}", {"title": "Fibre for 40 seats", "value": "5000", "score": 80})
    assert resp.status_code == 200 and (resp.json["title"], resp.json["value"]) == ("Fibre for 40 seats", "5000.00")
    assert api.patch(f"/leads/{lead.id}", {"title": "  "}).json["error"]["fields"] == {"title": "Required."}
    assert api.patch(f"/leads/{lead.id}", {"stage": "close"}).status_code == 422
