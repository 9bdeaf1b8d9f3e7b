"""Records for queue tests: a team in Lisbon, two reps, cadence steps, leads at chosen times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm.cadences.models import Cadence, CadenceEnrollment, CadenceStep, EnrollmentState
from crm.extensions import db
from crm.tasks.models import Task, TaskStatus
from crm.touches.models import Channel
from tests import factories as f

# A Tuesday, 11:00 in Lisbon (UTC+0 in winter), 20:00 in Tokyo.
T0 = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)


@pytest.fixture
def team(db_session):
    return f.team(timezone="Europe/Lisbon")


@pytest.fixture
def rep(team):
    return f.user("rep", team=team, name="Rita Rep")


@pytest.fixture
def other_rep(team):
    return f.user("rep", team=team, name="Ion Rep")


@pytest.fixture
def cadence(db_session):
    c = Cadence(name=f"Three calls {id(db_session)}")
    c.steps = [CadenceStep(position=0, channel=Channel.CALL), CadenceStep(position=1, channel=Channel.EMAIL,
                                                                          template_key="follow_up"),
               CadenceStep(position=2, channel=Channel.SMS)]
    db.session.add(c)
    db.session.flush()
    return c


def make_lead(owner=None, team=None, *, created=T0 - timedelta(days=3), touched=True, score=0, title="", **contact):
    lead = f.lead(owner=owner, team_obj=team, contact_obj=f.contact(**contact) if contact else None, score=score,
                  created_at=created, title=title)
    if touched:
        lead.first_touch_at = lead.last_touch_at = created + timedelta(minutes=1)
    db.session.flush()
    return lead


def enrol(lead, cadence, position: int, due: datetime, state=EnrollmentState.ACTIVE):
    e = CadenceEnrollment(lead_id=lead.id, cadence_id=cadence.id, step_position=position, next_step_at=due,
                          state=state, started_at=due - timedelta(days=1))
    db.session.add(e)
    db.session.flush()
    return e


def follow_up(lead, assignee, due: datetime, status=TaskStatus.OPEN):
    t = Task(title="Call back", lead_id=lead.id, contact_id=lead.contact_id, assignee_id=assignee.id, due_at=due,
             status=status)
    db.session.add(t)
    db.session.flush()
    return t
