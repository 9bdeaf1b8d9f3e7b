"""Cadences: enrolling leads and ending a cadence when the lead is reached or handed off."""

from __future__ import annotations

from sqlalchemy import select

from crm.cadences.models import CadenceEnrollment, EnrollmentState
from crm.db import utcnow
from crm.extensions import db
from crm.leads.models import Lead


def stop_cadence(lead: Lead, reason: str) -> CadenceEnrollment | None:
    """End the lead's active cadence (connected call, reply, hand-off …); no-op without one."""
    enrollment = db.session.scalar(select(CadenceEnrollment).where(CadenceEnrollment.lead_id == lead.id))
    if enrollment is None or enrollment.state != EnrollmentState.ACTIVE:
        return None
    enrollment.state = EnrollmentState.STOPPED
    enrollment.ended_at = utcnow()
    enrollment.ended_reason = reason
    enrollment.next_step_at = None
    return enrollment
