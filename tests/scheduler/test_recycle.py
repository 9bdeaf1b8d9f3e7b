"""Recycling: neglected open leads go back to their team's pool once, with a note and an audit event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from crm import access
from crm.audit.models import AuditEvent
from crm.contacts.timeline import contact_timeline
from crm.errors import ValidationFailed
from crm.leads import recycle
from crm.leads.service import change_stage, mark_lost
from crm.scheduler.runner import run_job
from crm.tasks.models import Task, TaskStatus
from crm.touches.service import log_touch
from jobs import recycle as recycle_job
from tests import factories as f

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def owned_lead(at: datetime = T0, timezone: str = "Europe/Lisbon", team=None):
    with time_machine.travel(at, tick=False):
        team = team or f.team()
        rep = f.user(team=team, timezone=timezone)
        return f.lead(rep)


def run_at(moment: datetime) -> int:
    with time_machine.travel(moment, tick=False):
        return recycle_job.run(moment)


def notes(db_session, lead):
    return db_session.scalars(select(Task).where(Task.lead_id == lead.id, Task.origin == "recycle")).all()


@pytest.mark.parametrize("timezone", ["Asia/Tokyo", "Europe/Lisbon", "America/New_York"])
def test_after_30_days_untouched_the_lead_returns_to_the_pool(db_session, timezone):
    # 30 days of 24 hours, whatever the rep's zone: the span crosses the March summer-time changes.
    lead = owned_lead(timezone=timezone)
    rep, team_id = lead.owner, lead.team_id
    assert run_at(T0 + timedelta(days=30, seconds=-1)) == 0 and lead.owner_id == rep.id
    assert run_at(T0 + timedelta(days=30, seconds=1)) == 1
    assert lead.owner_id is None and lead.team_id == team_id
    [note] = notes(db_session, lead)
    assert note.status == TaskStatus.DONE and note.assignee_id is None
    assert note.title == "Back in the team pool: no touch for 30 days"
    assert rep.name in note.notes and "never" in note.notes
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "lead.recycled"))
    assert event.entity_id == lead.id and event.changes["from_owner_id"] == rep.id and event.actor_id is None
    assert run_at(T0 + timedelta(days=30, minutes=1)) == 0  # twice in a row: nothing new
    assert len(notes(db_session, lead)) == 1


def test_the_pool_lead_is_visible_to_the_team_and_the_note_is_on_the_timeline(db_session):
    lead = owned_lead()
    teammate = f.user(team=lead.team)
    assert not access.can_see_lead(teammate, lead)
    run_at(T0 + timedelta(days=31))
    assert access.can_see_lead(teammate, lead)
    kinds = [(item.kind, getattr(item.item, "origin", None)) for item in contact_timeline(lead.contact)]
    assert ("task", "recycle") in kinds and not any(k == "touch" for k, _ in kinds)


def test_a_touch_restarts_the_clock(db_session):
    lead = owned_lead()
    with time_machine.travel(T0 + timedelta(days=20), tick=False):
        log_touch(contact=lead.contact, lead=lead, user=lead.owner, channel="call", direction="outbound",
                  outcome="no_answer")
        db_session.flush()
    assert run_at(T0 + timedelta(days=31)) == 0
    assert run_at(T0 + timedelta(days=50, seconds=1)) == 1
    assert "Mar 21, 2026 10:00\u202fAM" in notes(db_session, lead)[0].notes  # the owner's language and zone


def test_a_lead_moved_or_claimed_recently_is_being_worked(db_session):
    moved = owned_lead()
    claimed = owned_lead()
    with time_machine.travel(T0 + timedelta(days=25), tick=False):
        change_stage(moved, "nurture", actor=moved.owner)
        db_session.flush()
    claimed.claimed_by_id = claimed.owner_id
    claimed.claim_expires_at = T0 + timedelta(days=40)
    with time_machine.travel(T0, tick=False):
        db_session.flush()
    assert run_at(T0 + timedelta(days=31)) == 0


def test_only_owned_open_leads_are_recycled_and_a_teamless_lead_joins_its_owners_team(db_session):
    with time_machine.travel(T0, tick=False):
        team = f.team()
        rep = f.user(team=team)
        teamless = f.lead(rep, team_obj=None)
        teamless.team_id = None
        pool_lead = f.lead(None, team_obj=team)
        lost = f.lead(rep)
        mark_lost(lost, actor=rep, reason=f.lost_reason().label)
        db_session.flush()
    assert run_at(T0 + timedelta(days=31)) == 1
    assert teamless.owner_id is None and teamless.team_id == team.id
    assert notes(db_session, pool_lead) == [] and lost.owner_id == rep.id


def test_admin_sets_the_period(db_session):
    admin = f.user("admin")
    for bad in ("0", "-3", "soon", "", "99999"):
        with pytest.raises(ValidationFailed) as exc:
            recycle.save_recycle_days(bad, actor=admin)
        assert "recycle_after_days" in exc.value.fields
    assert recycle.recycle_after_days() == 30
    recycle.save_recycle_days("7", actor=admin)
    assert recycle.recycle_after_days() == 7
    change = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "setting.changed"))
    assert change.actor_id == admin.id and change.changes == {"key": "recycle.after_days", "from": None, "to": 7}
    lead = owned_lead()
    assert run_at(T0 + timedelta(days=7, minutes=1)) == 1 and lead.owner_id is None
    assert notes(db_session, lead)[0].title == "Back in the team pool: no touch for 7 days"


def test_a_run_killed_halfway_leaves_nothing_and_the_rerun_completes(app, db_session, monkeypatch):
    team = None
    leads = []
    for _ in range(3):
        lead = owned_lead(team=team)
        team = lead.team
        leads.append(lead)
    owners = {lead.id: lead.owner_id for lead in leads}
    db_session.commit()
    real_record, calls = recycle.record, []

    def dies_on_the_third(*args, **kwargs):
        calls.append(args)
        if len(calls) == 3:
            raise TimeoutError("killed mid-run")
        return real_record(*args, **kwargs)

    monkeypatch.setattr(recycle, "record", dies_on_the_third)
    moment = T0 + timedelta(days=31)
    with time_machine.travel(moment, tick=False):
        failed = run_job("recycle")
    assert "TimeoutError" in failed.error
    db_session.expire_all()
    assert {lead.id: lead.owner_id for lead in leads} == owners
    assert db_session.scalars(select(Task).where(Task.origin == "recycle")).all() == []
    monkeypatch.setattr(recycle, "record", real_record)
    with time_machine.travel(moment + timedelta(minutes=5), tick=False):
        assert run_job("recycle").items == 3
        assert run_job("recycle").items == 0
    assert all(lead.owner_id is None for lead in leads)
