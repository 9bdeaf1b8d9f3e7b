"""The queue page, Next lead, and the lead workspace's log panel (leases, refusals, then next lead)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from crm.extensions import db
from crm.leads.models import Lead
from crm.tasks.models import Task
from crm.touches.models import Outcome, Touch
from tests import factories as f
from tests.queue.conftest import T0, follow_up, make_lead


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def _sign_in(client, user):
    client.post("/login", data={"email": user.email, "password": f.PASSWORD})


def test_queue_page_lists_each_lead_with_its_reason_and_the_n_shortcut(client, rep, team):
    overdue = make_lead(rep, title="Overdue one")
    follow_up(overdue, rep, T0 - timedelta(hours=2))
    make_lead(rep, touched=False, title="Fresh one")
    make_lead(None, team, touched=False, title="Pool one")
    _sign_in(client, rep)
    page = client.get("/queue").data.decode()
    assert page.index("Overdue one") < page.index("Fresh one") < page.index("Pool one")
    assert "Follow-up overdue" in page and "New lead, not touched yet" in page and "pool" in page
    assert 'data-shortcut="n"' in page


def test_empty_queue_is_friendly(client, rep):
    _sign_in(client, rep)
    page = client.get("/queue").data.decode()
    assert 'data-testid="queue-empty"' in page and "Nothing waiting for you" in page


def test_managers_see_an_explanation_not_a_queue(client, team):
    _sign_in(client, f.user("manager", team=team))
    assert 'data-testid="queue-not-rep"' in client.get("/queue").data.decode()
    assert client.post("/queue/next").status_code == 302  # refused with a flash, nothing claimed


def test_queue_page_queries_do_not_grow_with_rows(client, rep, count_queries):
    def measure():
        with count_queries() as counter:
            assert client.get("/queue").status_code == 200
        return counter.count

    _sign_in(client, rep)
    for _ in range(3):
        make_lead(rep, touched=False)
    few = measure()
    for _ in range(30):
        make_lead(rep, touched=False)
    assert measure() == few


def test_next_lead_claims_and_opens_the_lead(client, rep):
    lead = make_lead(rep, touched=False, title="Fresh one")
    _sign_in(client, rep)
    resp = client.post("/queue/next")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/leads/{lead.id}")
    db.session.refresh(lead)
    assert lead.claimed_by_id == rep.id
    page = client.get(resp.headers["Location"]).data.decode()
    assert "Next: New lead, not touched yet." in page and 'data-held="1"' in page


def test_next_lead_on_an_empty_queue_goes_back_to_the_queue(client, rep):
    _sign_in(client, rep)
    resp = client.post("/queue/next", follow_redirects=True)
    assert "Nothing to do right now." in resp.data.decode()


def test_lead_page_shows_the_call_script_and_the_keyboard_log_form(client, rep, team):
    campaign = f.campaign(team, call_script="Hello, this is Rita from Touchline.\nAsk about fibre.")
    lead = f.lead(rep, campaign=campaign)
    _sign_in(client, rep)
    page = client.get(f"/leads/{lead.id}").data.decode()
    assert 'data-testid="call-script"' in page and "Ask about fibre." in page
    assert 'data-shortcut="l"' in page and 'id="log-form"' in page and "Take it" in page


def _log(client, lead, **data):
    form = {"outcome": "no_answer", "channel": "call", "talk_seconds": "", "notes": "", "follow_up_at": "",
            "had_lease": "1"}
    form.update(data)
    return client.post(f"/leads/{lead.id}/outcome", data={k: v for k, v in form.items() if v is not None})


def _then_next_checked(page: str) -> bool:
    import re

    tag = re.search(r'<input[^>]*id="then_next"[^>]*>', page).group(0)
    return " checked" in tag


def test_logging_with_then_next_lands_on_the_next_lead_and_is_remembered(client, rep):
    first = make_lead(rep, touched=False, created=T0 - timedelta(hours=2))
    second = make_lead(rep, touched=False, created=T0 - timedelta(hours=1))
    _sign_in(client, rep)
    client.post("/queue/next")
    resp = _log(client, first, then_next="y", notes="Rang out")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/leads/{second.id}")
    touch = db.session.scalar(select(Touch).where(Touch.lead_id == first.id))
    assert (touch.outcome, touch.body, touch.user_id) == (Outcome.NO_ANSWER, "Rang out", rep.id)
    page = client.get(f"/leads/{second.id}").data.decode()
    assert _then_next_checked(page) is True


def test_logging_without_then_next_stays_on_the_lead(client, rep):
    lead = make_lead(rep, touched=False)
    make_lead(rep, touched=False)
    _sign_in(client, rep)
    client.post("/queue/next")
    resp = _log(client, lead)
    assert resp.headers["Location"].endswith(f"/leads/{lead.id}")
    page = client.get(f"/leads/{lead.id}").data.decode()
    assert _then_next_checked(page) is False  # remembered as off


def test_a_next_step_becomes_a_follow_up_in_the_reps_time_zone(client, rep):
    rep.timezone = "Asia/Tokyo"
    lead = make_lead(rep, touched=False)
    _sign_in(client, rep)
    client.post("/queue/next")
    _log(client, lead, outcome="connected", talk_seconds="95", follow_up_at="2026-12-02T09:30")
    task = db.session.scalar(select(Task).where(Task.lead_id == lead.id))
    assert task.due_at == T0.replace(day=2, hour=0, minute=30)  # 09:30 in Tokyo is 00:30 UTC
    assert db.session.scalar(select(Touch.talk_seconds).where(Touch.lead_id == lead.id)) == 95


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"follow_up_at": "2026-11-30T09:00"}, "follow_up_at", "Pick a time after now."),
    ({"talk_seconds": "-5"}, "talk_seconds", "Number must be between 0 and 86400."),
    ({"outcome": "teleported"}, "outcome", "Not a valid choice."),
    ({"channel": "meeting", "outcome": "no_answer"}, "outcome", "A meeting can be"),
])
def test_bad_input_is_shown_beside_the_field_and_nothing_is_logged(client, rep, data, field, message):
    lead = make_lead(rep, touched=False)
    _sign_in(client, rep)
    client.post("/queue/next")
    resp = _log(client, lead, notes="Keep me", **data)
    page = resp.data.decode()
    assert resp.status_code == 422 and f'id="{field}-error"' in page and message in page and "Keep me" in page
    assert db.session.scalar(select(Touch.id).where(Touch.lead_id == lead.id)) is None


def test_logging_on_an_expired_lease_is_refused_keeping_what_was_typed(client, rep, frozen):
    lead = make_lead(rep, touched=False)
    _sign_in(client, rep)
    client.post("/queue/next")
    frozen.shift(timedelta(minutes=16))
    resp = _log(client, lead, notes="Spoke to the assistant", talk_seconds="42")
    page = resp.data.decode()
    assert resp.status_code == 409 and 'data-testid="log-error"' in page and "hold on this lead expired" in page
    assert "Spoke to the assistant" in page and 'value="42"' in page and "Take it again and log" in page
    assert db.session.scalar(select(Touch.id).where(Touch.lead_id == lead.id)) is None
    resp = _log(client, lead, notes="Spoke to the assistant", retake="1")
    assert resp.status_code == 302
    assert db.session.scalar(select(Touch.body).where(Touch.lead_id == lead.id)) == "Spoke to the assistant"


def test_logging_on_a_lead_taken_over_is_refused_with_who_has_it(client, rep, other_rep, team):
    lead = make_lead(None, team, touched=False)
    _sign_in(client, rep)
    client.post("/queue/next")
    stored = db.session.get(Lead, lead.id)
    stored.claimed_by_id, stored.claim_expires_at = other_rep.id, T0 + timedelta(minutes=30)
    db.session.commit()
    page = _log(client, lead, notes="typed").data.decode()
    assert "Ion Rep is working this lead now." in page and "typed" in page and "Take it again" not in page


def test_heartbeat_renews_the_lease_and_reports_a_lost_one(client, rep, frozen):
    lead = make_lead(rep, touched=False)
    _sign_in(client, rep)
    client.post("/queue/next")
    frozen.shift(timedelta(minutes=10))
    resp = client.post(f"/leads/{lead.id}/lease")
    assert resp.status_code == 200 and resp.json["expires_at"].startswith("2026-12-01T11:25")
    frozen.shift(timedelta(minutes=16))
    resp = client.post(f"/leads/{lead.id}/lease")
    assert resp.status_code == 409 and resp.json["error"]["code"] == "lease_expired"


def test_leaving_the_page_releases_the_lease(client, rep):
    lead = make_lead(rep, touched=False)
    _sign_in(client, rep)
    client.post("/queue/next")
    assert client.post(f"/leads/{lead.id}/release").status_code == 204
    db.session.refresh(lead)
    assert lead.claimed_by_id is None


def test_taking_a_lead_from_its_page_and_refusing_another_reps(client, rep, other_rep):
    mine, theirs = make_lead(rep), make_lead(other_rep)
    _sign_in(client, rep)
    assert client.post(f"/leads/{mine.id}/claim").status_code == 302
    db.session.refresh(mine)
    assert mine.claimed_by_id == rep.id
    assert client.post(f"/leads/{theirs.id}/claim").status_code == 404


def test_managers_reassign_ticked_leads_from_the_lead_list(client, rep, other_rep, team):
    manager = f.user("manager", team=team)
    leads = [make_lead(rep, title=f"Bulk {n}") for n in range(3)]
    _sign_in(client, manager)
    page = client.get("/leads").data.decode()
    assert 'id="reassign-form"' in page and 'name="lead_ids"' in page and other_rep.name in page
    resp = client.post("/leads/reassign", data={"lead_ids": [str(leads[0].id), str(leads[2].id)],
                                                "owner_id": str(other_rep.id), "next": "/leads?stage=discover"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/leads?stage=discover"
    db.session.expire_all()
    assert [db.session.get(Lead, lead.id).owner_id for lead in leads] == [other_rep.id, rep.id, other_rep.id]


def test_reps_get_no_bulk_reassign_and_are_refused(client, rep, other_rep):
    lead = make_lead(rep)
    _sign_in(client, rep)
    assert 'id="reassign-form"' not in client.get("/leads").data.decode()
    resp = client.post("/leads/reassign", data={"lead_ids": [str(lead.id)], "owner_id": str(other_rep.id)},
                       follow_redirects=True)
    assert "Only managers reassign leads." in resp.data.decode()
    db.session.expire_all()
    assert db.session.get(Lead, lead.id).owner_id == rep.id


def test_bulk_reassign_without_a_rep_or_to_another_team_is_refused(client, rep, team):
    manager = f.user("manager", team=team)
    outsider = f.user("rep", team=f.team())
    lead = make_lead(rep)
    _sign_in(client, manager)
    page = client.post("/leads/reassign", data={"lead_ids": [str(lead.id)]}, follow_redirects=True).data.decode()
    assert "Choose the rep to give the leads to." in page
    page = client.post("/leads/reassign", data={"lead_ids": [str(lead.id)], "owner_id": str(outsider.id),
                                                "next": "//evil.example/"}, follow_redirects=True).data.decode()
    assert "You cannot give leads to that rep." in page
    db.session.expire_all()
    assert db.session.get(Lead, lead.id).owner_id == rep.id
