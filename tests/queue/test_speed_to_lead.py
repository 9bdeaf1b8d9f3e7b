"""Speed-to-lead: late first touches counted in working hours of the team's zone, flagged and emailed once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm.email.models import OutboundEmail
from crm.extensions import db
from crm.queue.speed_to_lead import flag_speed_to_lead_breaches, speed_to_lead_key, working_seconds
from crm.touches.service import log_touch
from tests import factories as f
from tests.queue.conftest import make_lead

TUESDAY_10_LISBON = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # Lisbon is UTC+0 in December


@pytest.mark.parametrize(("start", "end", "zone", "seconds"), [
    # inside one working morning
    (datetime(2026, 12, 1, 10, 0, tzinfo=UTC), datetime(2026, 12, 1, 10, 6, tzinfo=UTC), "Europe/Lisbon", 360),
    # Friday 17:58 to Monday 08:03 in Lisbon: 2 + 3 working minutes
    (datetime(2026, 12, 4, 17, 58, tzinfo=UTC), datetime(2026, 12, 7, 8, 3, tzinfo=UTC), "Europe/Lisbon", 300),
    # 19:00 to 07:59 next morning: nothing
    (datetime(2026, 12, 1, 19, 0, tzinfo=UTC), datetime(2026, 12, 2, 7, 59, tzinfo=UTC), "Europe/Lisbon", 0),
    # Tokyo is UTC+9: 00:00 UTC is 09:00 there
    (datetime(2026, 12, 1, 0, 0, tzinfo=UTC), datetime(2026, 12, 1, 0, 10, tzinfo=UTC), "Asia/Tokyo", 600),
    # the same instants are night in Lisbon
    (datetime(2026, 12, 1, 0, 0, tzinfo=UTC), datetime(2026, 12, 1, 0, 10, tzinfo=UTC), "Europe/Lisbon", 0),
    # New York, 08:00 EDT on the Monday after the clocks went back (UTC-5 from 1 Nov 2026)
    (datetime(2026, 11, 2, 12, 55, tzinfo=UTC), datetime(2026, 11, 2, 13, 5, tzinfo=UTC), "America/New_York", 300),
    # a whole working week
    (datetime(2026, 11, 30, 0, 0, tzinfo=UTC), datetime(2026, 12, 7, 0, 0, tzinfo=UTC), "Europe/Lisbon", 5 * 36000),
])
def test_working_seconds_across_zones_weekends_and_nights(start, end, zone, seconds):
    assert working_seconds(start, end, zone) == seconds


def test_working_seconds_stop_counting_once_enough(app):
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    assert working_seconds(start, start + timedelta(days=365), "UTC", enough=300) == 36000  # the first day was enough


@pytest.fixture
def lisbon(db_session):
    team = f.team(timezone="Europe/Lisbon", speed_to_lead_seconds=300)
    managers = [f.user("manager", team=team), f.user("manager", team=team)]
    return team, managers


def test_a_lead_untouched_past_the_limit_is_flagged_once_and_each_manager_emailed_once(lisbon):
    team, managers = lisbon
    rep = f.user("rep", team=team)
    late = make_lead(rep, touched=False, created=TUESDAY_10_LISBON)
    on_time = make_lead(rep, touched=False, created=TUESDAY_10_LISBON + timedelta(minutes=2))
    now = TUESDAY_10_LISBON + timedelta(minutes=6)
    assert flag_speed_to_lead_breaches(now) == 1
    assert late.speed_to_lead_flagged_at == now and on_time.speed_to_lead_flagged_at is None
    keys = set(db.session.scalars(select(OutboundEmail.idempotency_key)))
    assert keys == {speed_to_lead_key(late.id, m.id) for m in managers}
    mail = db.session.scalar(select(OutboundEmail).where(OutboundEmail.to_email == managers[0].email))
    assert late.title in mail.subject and f"/leads/{late.id}" in mail.body_text
    assert flag_speed_to_lead_breaches(now + timedelta(minutes=1)) == 1  # on_time is late now; late is not again
    assert db.session.scalar(select(func.count()).select_from(OutboundEmail)) == 4


def test_touched_closed_and_already_flagged_leads_are_left_alone(lisbon):
    team, _ = lisbon
    rep = f.user("rep", team=team)
    touched = make_lead(rep, touched=False, created=TUESDAY_10_LISBON)
    log_touch(contact=touched.contact, lead=touched, user=rep, channel="call", direction="outbound",
              outcome="no_answer", occurred_at=TUESDAY_10_LISBON + timedelta(minutes=3))
    inbound_only = make_lead(rep, touched=False, created=TUESDAY_10_LISBON)
    log_touch(contact=inbound_only.contact, lead=inbound_only, channel="email", direction="inbound",
              outcome="received", occurred_at=TUESDAY_10_LISBON + timedelta(minutes=1))
    lost = make_lead(rep, touched=False, created=TUESDAY_10_LISBON)
    lost.lost_reason_id = f.lost_reason().id
    lost.status = "lost"
    now = TUESDAY_10_LISBON + timedelta(hours=1)
    assert flag_speed_to_lead_breaches(now) == 1  # only the one with nothing but an inbound email
    assert inbound_only.speed_to_lead_flagged_at == now and touched.speed_to_lead_flagged_at is None


def test_a_lead_arriving_friday_evening_is_not_late_before_monday_morning(lisbon):
    team, _ = lisbon
    friday_evening = datetime(2026, 12, 4, 17, 59, tzinfo=UTC)
    lead = make_lead(f.user("rep", team=team), touched=False, created=friday_evening)
    assert flag_speed_to_lead_breaches(datetime(2026, 12, 5, 12, 0, tzinfo=UTC)) == 0
    assert flag_speed_to_lead_breaches(datetime(2026, 12, 7, 8, 3, tzinfo=UTC)) == 0  # 1 + 3 working minutes
    assert flag_speed_to_lead_breaches(datetime(2026, 12, 7, 8, 4, tzinfo=UTC)) == 1
    assert lead.speed_to_lead_flagged_at == datetime(2026, 12, 7, 8, 4, tzinfo=UTC)


def test_the_limit_and_zone_are_the_teams(db_session):
    tokyo = f.team(timezone="Asia/Tokyo", speed_to_lead_seconds=60)
    lisbon = f.team(timezone="Europe/Lisbon", speed_to_lead_seconds=60)
    midnight_utc = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo, 00:00 in Lisbon
    in_tokyo = make_lead(None, tokyo, touched=False, created=midnight_utc)
    in_lisbon = make_lead(None, lisbon, touched=False, created=midnight_utc)
    assert flag_speed_to_lead_breaches(midnight_utc + timedelta(minutes=2)) == 1
    assert in_tokyo.speed_to_lead_flagged_at is not None and in_lisbon.speed_to_lead_flagged_at is None


def test_leads_without_a_team_use_five_minutes_and_email_nobody(app, db_session):
    lead = make_lead(None, None, touched=False, created=TUESDAY_10_LISBON)
    assert flag_speed_to_lead_breaches(TUESDAY_10_LISBON + timedelta(minutes=4)) == 0
    assert flag_speed_to_lead_breaches(TUESDAY_10_LISBON + timedelta(minutes=5)) == 1
    assert lead.speed_to_lead_flagged_at is not None
    assert db.session.scalar(select(func.count()).select_from(OutboundEmail)) == 0


def test_flagged_leads_show_on_the_managers_dashboard_only(client, lisbon):
    team, managers = lisbon
    rep = f.user("rep", team=team)
    lead = make_lead(rep, touched=False, created=TUESDAY_10_LISBON, title="Waiting Wanda")
    flag_speed_to_lead_breaches(TUESDAY_10_LISBON + timedelta(minutes=10))
    client.post("/login", data={"email": managers[0].email, "password": f.PASSWORD})
    page = client.get("/").data.decode()
    assert 'data-testid="speed-to-lead"' in page and "Waiting Wanda" in page and f"/leads/{lead.id}" in page
    client.post("/logout")
    client.post("/login", data={"email": rep.email, "password": f.PASSWORD})
    assert 'data-testid="speed-to-lead"' not in client.get("/").data.decode()


def test_the_sla_job_flags_speed_to_lead_breaches_once(lisbon):
    import time_machine

    from crm.scheduler.runner import run_job

    team, managers = lisbon
    late = make_lead(f.user("rep", team=team), touched=False, created=TUESDAY_10_LISBON)
    with time_machine.travel(TUESDAY_10_LISBON + timedelta(minutes=6), tick=False):
        assert run_job("sla").items == 1
        assert late.speed_to_lead_flagged_at is not None
        assert run_job("sla").items == 0  # flagged and emailed once, not every five minutes
    assert db.session.scalar(select(func.count()).select_from(OutboundEmail)) == len(managers)
