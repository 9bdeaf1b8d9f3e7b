"""The private iCalendar feed: the rep's open tasks as RFC 5545 events, reachable only by its secret."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine
from icalendar import Calendar

from crm.tasks import service
from tests import factories as f
from tests.tasks.conftest import DUE


def feed(client, secret: str):
    return client.get(f"/calendar/{secret}.ics")


def test_the_feed_lists_the_reps_open_tasks_as_events(client, org):
    people, leads = org
    rep = people["rep_a"]
    task = service.create_task(rep, title="Call about the contract; bring “numbers”, please", due_at=DUE,
                               lead_id=leads["a"].id, notes="Ask for Ana")
    done = service.create_task(rep, title="Already done", due_at=DUE, lead_id=leads["a"].id)
    service.complete_task(done, actor=rep)
    service.create_task(people["rep_b"], title="Not hers", due_at=DUE, lead_id=leads["b"].id)
    with time_machine.travel(datetime(2026, 11, 23, 9, 0, tzinfo=UTC), tick=False):
        resp = feed(client, rep.calendar_secret)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/calendar; charset=utf-8"
    raw = resp.get_data()
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n") and raw.endswith(b"END:VCALENDAR\r\n")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))  # RFC 5545 folds long lines at 75 octets
    calendar = Calendar.from_ical(raw)
    assert str(calendar["VERSION"]) == "2.0" and str(calendar["PRODID"]).startswith("-//Touchline")
    [event] = calendar.walk("VEVENT")
    assert str(event["SUMMARY"]) == task.title
    assert event.decoded("DTSTART") == DUE and event.decoded("DTEND") == DUE.replace(minute=15)
    assert str(event["UID"]) == f"task-{task.id}@127.0.0.1"
    assert "Ask for Ana" in str(event["DESCRIPTION"]) and str(event["URL"]).endswith(f"/leads/{leads['a'].id}")
    assert event.decoded("DTSTAMP") == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_an_empty_feed_is_still_a_valid_calendar(client, org):
    people, _ = org
    calendar = Calendar.from_ical(feed(client, people["rep_b"].calendar_secret).get_data())
    assert calendar.walk("VEVENT") == [] and str(calendar["X-WR-CALNAME"]) == "Touchline: Ion Popescu"


def test_a_wrong_or_old_secret_answers_404(client, org):
    people, _ = org
    rep = people["rep_a"]
    assert feed(client, "not-a-secret").status_code == 404
    assert feed(client, "x" * 100).status_code == 404
    old = rep.calendar_secret
    service.regenerate_calendar_secret(rep)
    assert feed(client, old).status_code == 404
    assert feed(client, rep.calendar_secret).status_code == 200


def test_a_deactivated_users_feed_answers_404(client, org, db_session):
    people, _ = org
    people["rep_a"].active = False
    assert feed(client, people["rep_a"].calendar_secret).status_code == 404


def test_the_tasks_page_shows_the_feed_address_and_regenerates_it(client, org, db_session):
    people, _ = org
    rep = people["rep_a"]
    assert client.post("/login", data={"email": rep.email, "password": f.PASSWORD}).status_code == 302
    old = rep.calendar_secret
    assert f"/calendar/{old}.ics" in client.get("/tasks").get_data(as_text=True)
    assert client.post("/tasks/calendar-secret").status_code == 302
    db_session.refresh(rep)
    assert rep.calendar_secret != old
    assert f"/calendar/{rep.calendar_secret}.ics" in client.get("/tasks").get_data(as_text=True)
