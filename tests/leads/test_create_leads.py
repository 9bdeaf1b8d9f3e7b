"""create_leads (the call webhook's new callers, many at once) makes what create_lead makes one by one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from crm.audit.models import AuditEvent
from crm.auth.models import Role, User
from crm.cadences.models import CadenceEnrollment
from crm.contacts.service import create_contacts, find_or_create_contact
from crm.leads.models import StageChange
from crm.leads.service import create_lead, create_leads
from tests import factories as f
from tests.cadences.helpers import default_cadence_in_place

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _made(db_session, leads):
    """What each lead came with, without the ids that differ between the two ways of making them."""
    out = []
    for lead in leads:
        change = db_session.scalars(select(StageChange).where(StageChange.lead_id == lead.id)).one()
        audit = db_session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "leads",
                                                            AuditEvent.entity_id == lead.id)).one()
        enrollment = db_session.scalars(select(CadenceEnrollment).where(CadenceEnrollment.lead_id == lead.id)).all()
        out.append({
            "lead": (lead.title == lead.contact.full_name, lead.stage, lead.status, lead.owner_id, lead.team_id,
                     lead.source.name, lead.currency, lead.score, lead.value, lead.stage_changed_at),
            "change": (change.from_stage, change.to_stage, change.to_status, change.note, change.changed_at),
            "audit": (audit.action, audit.changes["owner_id"], audit.changes["contact_id"] == lead.contact_id),
            "enrollment": [(e.cadence_id, e.state, e.step_position, e.started_at, e.next_step_at, e.ended_reason)
                           for e in enrollment],
        })
    return out


@pytest.mark.parametrize("with_cadence", [True, False], ids=["default-cadence", "no-cadence"])
def test_create_leads_matches_create_lead_one_by_one(db_session, with_cadence):
    if with_cadence:
        default_cadence_in_place()
    one_team, many_team = f.team("One by one"), f.team("Many")
    for team in (one_team, many_team):
        for n in range(2):
            f.user(Role.REP, team, email=f"rep{n}@{team.id}.example.com", last_assigned_at=None)
    people = [{"first_name": "Caller", "last_name": f"+35191500000{n}", "phone": f"+35191500000{n}"} for n in range(3)]
    others = [{"first_name": "Caller", "last_name": f"+35191600000{n}", "phone": f"+35191600000{n}"} for n in range(3)]
    with time_machine.travel(NOW, tick=False):
        singles = [create_lead(find_or_create_contact(**person, team_id=one_team.id).contact, actor=None,
                               source="ACD", team_id=one_team.id) for person in people]
        contacts = create_contacts(others, team_id=many_team.id)
        together = create_leads(contacts, actor=None, source="ACD", team_id=many_team.id)
    assert [c.phone for c in contacts] == [p["phone"] for p in others] and all(c.team_id == many_team.id for c in contacts)
    assert [c.country for c in contacts] == ["PT"] * 3
    owners = {u.id: u.email.split("@")[0] for u in db_session.scalars(select(User))}
    one, many = _made(db_session, singles), _made(db_session, together)
    for row in one + many:  # owners and teams differ by team only: compare by rep name
        row["lead"] = (*row["lead"][:3], owners.get(row["lead"][3]), *row["lead"][5:])
        row["audit"] = (row["audit"][0], owners.get(row["audit"][1]), row["audit"][2])
    assert one == many
    assert [row["lead"][3] for row in many] == ["rep0", "rep1", "rep0"]  # round-robin, in turn
    assert all(bool(row["enrollment"]) == with_cadence for row in many)
    assert db_session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "contacts")).all().count(
        "contact.created") == 6


def test_create_leads_of_nobody_makes_nothing(db_session):
    assert create_leads([], actor=None, source="ACD") == []
