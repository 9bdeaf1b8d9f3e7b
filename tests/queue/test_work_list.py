"""The rep's work list: order, the reason per item, calling hours in the contact's zone, consent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from crm.cadences.models import EnrollmentState
from crm.queue.service import Reason, calling_hours, work_items, work_list, zones_in_calling_hours
from crm.tasks.models import TaskStatus
from crm.touches.models import Channel
from tests import factories as f
from tests.queue.conftest import T0, enrol, follow_up, make_lead


def _reasons(rep, now=T0, **kw):
    return [(i.lead_id, i.reason) for i in work_items(rep, now=now, **kw)]


def test_order_is_overdue_then_new_then_cadence_then_pool_then_score(rep, team, cadence):
    by_score_low = make_lead(rep, score=10)
    by_score_high = make_lead(rep, score=90)
    pool = make_lead(None, team, touched=False, created=T0 - timedelta(hours=2))
    stepped = make_lead(rep)
    enrol(stepped, cadence, 0, T0 - timedelta(minutes=5))
    new = make_lead(rep, touched=False, created=T0 - timedelta(minutes=3))
    overdue = make_lead(rep)
    follow_up(overdue, rep, T0 - timedelta(hours=1))
    assert _reasons(rep) == [
        (overdue.id, Reason.FOLLOW_UP), (new.id, Reason.NEW_LEAD), (stepped.id, Reason.CADENCE_STEP),
        (pool.id, Reason.POOL), (by_score_high.id, Reason.BY_SCORE), (by_score_low.id, Reason.BY_SCORE)]


def test_a_lead_appears_once_with_its_best_reason(rep, cadence):
    lead = make_lead(rep, touched=False)
    follow_up(lead, rep, T0 - timedelta(hours=2))
    follow_up(lead, rep, T0 - timedelta(hours=1))
    enrol(lead, cadence, 0, T0 - timedelta(minutes=1))
    items = work_items(rep, now=T0)
    assert [(i.lead_id, i.reason, i.tasks) for i in items] == [(lead.id, Reason.FOLLOW_UP, 2)]
    assert items[0].since == T0 - timedelta(hours=2)


def test_oldest_overdue_and_oldest_new_come_first(rep):
    later, earlier = make_lead(rep), make_lead(rep)
    follow_up(later, rep, T0 - timedelta(minutes=10))
    follow_up(earlier, rep, T0 - timedelta(days=1))
    new_late = make_lead(rep, touched=False, created=T0 - timedelta(minutes=1))
    new_early = make_lead(rep, touched=False, created=T0 - timedelta(minutes=30))
    assert [i.lead_id for i in work_items(rep, now=T0)] == [earlier.id, later.id, new_early.id, new_late.id]


def test_not_yet_due_done_and_others_follow_ups_are_not_overdue_items(rep, other_rep):
    future, done, theirs = make_lead(rep), make_lead(rep), make_lead(rep)
    follow_up(future, rep, T0 + timedelta(minutes=1))
    follow_up(done, rep, T0 - timedelta(hours=1), status=TaskStatus.DONE)
    follow_up(theirs, other_rep, T0 - timedelta(hours=1))
    assert Reason.FOLLOW_UP not in {r for _, r in _reasons(rep)}


def test_other_reps_leads_and_closed_leads_are_not_listed(rep, other_rep, team):
    make_lead(other_rep, touched=False)
    lost = make_lead(rep, touched=False)
    lost.lost_reason_id = f.lost_reason().id
    lost.status = "lost"
    assert _reasons(rep) == []


def test_leads_held_by_someone_else_are_left_out_until_the_lease_expires(rep, other_rep, team):
    pool = make_lead(None, team, touched=False)
    pool.claimed_by_id, pool.claim_expires_at = other_rep.id, T0 + timedelta(minutes=5)
    assert _reasons(rep) == []
    assert _reasons(rep, now=T0 + timedelta(minutes=6)) == [(pool.id, Reason.POOL)]


def test_recently_touched_and_scheduled_leads_rest(rep, cadence):
    rested = make_lead(rep, created=T0 - timedelta(days=2))
    rested.last_touch_at = T0 - timedelta(hours=2)
    scheduled = make_lead(rep)
    scheduled.next_action_at = T0 + timedelta(days=1)
    waiting = make_lead(rep)
    enrol(waiting, cadence, 1, T0 + timedelta(days=1))
    assert _reasons(rep) == []
    assert {lead for lead, _ in _reasons(rep, now=T0 + timedelta(days=2))} == {rested.id, scheduled.id, waiting.id}


def test_finished_cadences_give_no_step(rep, cadence):
    lead = make_lead(rep)
    lead.last_touch_at = T0 - timedelta(hours=1)
    enrol(lead, cadence, 0, T0 - timedelta(hours=1), state=EnrollmentState.STOPPED)
    assert _reasons(rep) == []


@pytest.mark.parametrize(("zone", "utc_hour", "offered"), [
    ("Europe/Lisbon", 7, False),    # 07:00 in Lisbon: too early
    ("Europe/Lisbon", 8, True),     # 08:00 sharp: open
    ("Europe/Lisbon", 20, True),    # 20:00
    ("Europe/Lisbon", 21, False),   # 21:00: closed (the end is exclusive)
    ("Asia/Tokyo", 0, True),        # 09:00 in Tokyo
    ("Asia/Tokyo", 11, True),       # 20:00 in Tokyo
    ("Asia/Tokyo", 12, False),      # 21:00 in Tokyo
    ("America/New_York", 12, True),  # 07:00 → no; 12 UTC is 07:00 EST in December
])
def test_call_steps_only_within_calling_hours_in_the_contacts_zone(rep, cadence, zone, utc_hour, offered):
    if zone == "America/New_York":
        offered = False
    now = datetime(2026, 12, 1, utc_hour, 0, tzinfo=UTC)
    lead = make_lead(rep, timezone=zone)
    lead.last_touch_at = now - timedelta(hours=1)  # resting, so only the step could list it
    enrol(lead, cadence, 0, now - timedelta(minutes=1))
    assert _reasons(rep, now=now) == ([(lead.id, Reason.CADENCE_STEP)] if offered else [])


def test_calling_hours_follow_summer_time_in_lisbon(rep, cadence):
    summer = datetime(2026, 7, 1, 7, 30, tzinfo=UTC)  # 08:30 in Lisbon (UTC+1), 07:30 UTC
    lead = make_lead(rep, timezone="Europe/Lisbon", created=summer - timedelta(days=3))
    lead.last_touch_at = summer - timedelta(hours=1)
    enrol(lead, cadence, 0, summer - timedelta(minutes=1))
    assert _reasons(rep, now=summer) == [(lead.id, Reason.CADENCE_STEP)]
    assert _reasons(rep, now=summer.replace(hour=6, minute=59)) == []


def test_do_not_call_contacts_get_no_call_step_and_opted_out_no_email_step(rep, cadence):
    no_calls = make_lead(rep, do_not_call=True)
    no_email = make_lead(rep, email_opt_out=True)
    calls_ok = make_lead(rep)
    sms_for_dnc = make_lead(rep, do_not_call=True)
    for lead in (no_calls, no_email, calls_ok, sms_for_dnc):
        lead.last_touch_at = T0 - timedelta(hours=1)
    enrol(no_calls, cadence, 0, T0 - timedelta(minutes=4))
    enrol(no_email, cadence, 1, T0 - timedelta(minutes=3))
    enrol(calls_ok, cadence, 0, T0 - timedelta(minutes=2))
    enrol(sms_for_dnc, cadence, 2, T0 - timedelta(minutes=1))
    items = work_items(rep, now=T0)
    assert [(i.lead_id, i.channel) for i in items] == [(calls_ok.id, Channel.CALL), (sms_for_dnc.id, Channel.SMS)]


def test_an_email_step_is_offered_outside_calling_hours(rep, cadence):
    night = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    lead = make_lead(rep)
    lead.last_touch_at = night - timedelta(hours=1)
    enrol(lead, cadence, 1, night - timedelta(minutes=1))
    assert [(i.reason, i.channel, i.step) for i in work_items(rep, now=night)] == [
        (Reason.CADENCE_STEP, Channel.EMAIL, 1)]


def test_the_pool_of_another_team_is_not_offered(rep):
    make_lead(None, f.team(), touched=False)
    assert _reasons(rep) == []


def test_limit_keeps_the_best_items(rep):
    leads = [make_lead(rep, score=s) for s in range(10)]
    assert [i.lead_id for i in work_items(rep, now=T0, limit=3)] == [leads[9].id, leads[8].id, leads[7].id]


def test_managers_and_field_reps_have_no_queue(team):
    manager = f.user("manager", team=team)
    make_lead(None, team, touched=False)
    assert work_items(manager, now=T0) == []
    assert work_items(f.user("field", team=team), now=T0) == []


def test_the_list_costs_the_same_queries_for_three_or_thirty_leads(rep, cadence, count_queries):
    def measure():
        with count_queries() as counter:
            items = work_list(rep, now=T0)
            [i.lead.contact.full_name for i in items]
        return counter.count, len(items)

    for n in range(3):
        follow_up(make_lead(rep), rep, T0 - timedelta(hours=n + 1))
        make_lead(rep, touched=False)
    few, listed_few = measure()
    for n in range(30):
        follow_up(make_lead(rep), rep, T0 - timedelta(hours=n + 1))
        make_lead(rep, touched=False)
        make_lead(rep, score=n)
    many, listed_many = measure()
    assert (listed_few, listed_many) == (6, 50)
    assert few == many <= 4


def test_zones_in_calling_hours_include_utc_at_noon_and_exclude_it_at_night(app):
    assert "UTC" in zones_in_calling_hours(datetime(2026, 12, 1, 12, tzinfo=UTC))
    assert "UTC" not in zones_in_calling_hours(datetime(2026, 12, 1, 22, tzinfo=UTC))


@pytest.mark.parametrize("raw", ["8-21", "21:00-08:00", "nonsense", "08:00"])
def test_a_malformed_calling_hours_setting_is_refused(app, raw):
    with pytest.raises(ValueError, match="CALLING_HOURS"):
        calling_hours(raw)


def test_calling_hours_setting_is_read_from_config(app, rep, cadence):
    lead = make_lead(rep)
    lead.last_touch_at = T0 - timedelta(hours=1)
    enrol(lead, cadence, 0, T0 - timedelta(minutes=1))
    app.config["CALLING_HOURS"] = "12:00-13:00"
    try:
        assert _reasons(rep) == []  # 11:00 in Lisbon
        with time_machine.travel(T0 + timedelta(hours=1, minutes=30), tick=False):
            assert _reasons(rep, now=None) == [(lead.id, Reason.CADENCE_STEP)]
    finally:
        app.config["CALLING_HOURS"] = "08:00-21:00"


def test_the_work_list_is_planned_for_the_rep_on_postgresql(rep):
    """A generic plan (PostgreSQL's choice for a statement prepared by psycopg) ignores how many leads the
    rep has; the work list asks for plans made for its values."""
    from sqlalchemy import text

    from crm.db import is_postgresql
    from crm.extensions import db
    from crm.queue.service import work_items

    if not is_postgresql(db.session):
        pytest.skip("SQLite has no plan cache")
    assert db.session.scalar(text("SHOW plan_cache_mode")) == "auto"
    work_items(rep)
    assert db.session.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
