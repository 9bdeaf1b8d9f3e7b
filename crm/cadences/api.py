"""/api/v1/cadences (the steps) and /api/v1/leads/<id>/cadence (where a lead stands in its cadence)."""

from __future__ import annotations

from datetime import datetime, time

from flask_babel import gettext as _
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm import access
from crm.api import current_api_user, endpoint
from crm.cadences.models import Cadence, CadenceEnrollment, EnrollmentState
from crm.errors import NotFound
from crm.extensions import db
from crm.touches.models import Channel


class StepOut(BaseModel):
    position: int
    day_offset: int
    window_start: time
    window_end: time
    channel: Channel
    template_key: str | None
    only_if_unreached: bool


class CadenceOut(BaseModel):
    id: int
    name: str
    is_default: bool
    active: bool
    steps: list[StepOut]


class CadenceList(BaseModel):
    items: list[CadenceOut]


class EnrollmentOut(BaseModel):
    lead_id: int
    cadence: CadenceOut
    state: EnrollmentState
    step_position: int
    next_step_at: datetime | None
    started_at: datetime
    ended_at: datetime | None
    ended_reason: str


def cadence_out(cadence: Cadence) -> CadenceOut:
    return CadenceOut(id=cadence.id, name=cadence.name, is_default=cadence.is_default, active=cadence.active,
                      steps=[StepOut.model_validate(s, from_attributes=True) for s in cadence.steps])


@endpoint("/cadences", summary="The cadences and their steps", tags=["cadences"], response=CadenceList)
def list_cadences():
    rows = db.session.scalars(select(Cadence).options(selectinload(Cadence.steps)).order_by(Cadence.id))
    return CadenceList(items=[cadence_out(c) for c in rows])


@endpoint("/leads/<int:lead_id>/cadence", summary="Where a lead stands in its cadence", tags=["cadences"],
          response=EnrollmentOut, responses={404: "No such lead, or it never joined a cadence"})
def lead_cadence(lead_id: int):
    lead = access.get_lead(current_api_user(), lead_id)
    enrollment = db.session.scalar(select(CadenceEnrollment).where(CadenceEnrollment.lead_id == lead.id))
    if enrollment is None:
        raise NotFound(_("This lead is not in a cadence."), code="not_enrolled")
    return EnrollmentOut(lead_id=lead.id, cadence=cadence_out(enrollment.cadence), state=enrollment.state,
                         step_position=enrollment.step_position, next_step_at=enrollment.next_step_at,
                         started_at=enrollment.started_at, ended_at=enrollment.ended_at,
                         ended_reason=enrollment.ended_reason)
