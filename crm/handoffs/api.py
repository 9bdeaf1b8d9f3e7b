"""/api/v1 hand-offs: hand a lead off, accept, send back, approve or refuse, and list them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from crm import access
from crm.api import current_api_user, endpoint
from crm.api.pagination import MAX_LIMIT, page
from crm.contacts.api import Ref
from crm.extensions import db
from crm.handoffs import service
from crm.handoffs.models import Handoff, HandoffStatus
from crm.i18n import zone_of


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: str = Field("", max_length=500, description="A short answer")
    met: bool = False


class HandoffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    budget: Criterion = Criterion()
    authority: Criterion = Criterion()
    need: Criterion = Criterion()
    timeline: Criterion = Criterion()
    notes: str = Field("", max_length=5000, description="Notes for the field rep")
    proposed_meeting_at: datetime | None = Field(
        None, description="First meeting. Without an offset it is the contact's local time; stored in UTC.")
    to_user_id: int | None = Field(None, ge=1, description="The field rep; omit to let the team's rule choose")


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=2000, description="Required: why it is sent back")


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approve: bool = Field(True, description="false refuses the hand-off (a reason is then required)")
    reason: str = Field("", max_length=2000)


class HandoffOut(BaseModel):
    id: int
    lead: Ref
    status: HandoffStatus
    from_user: Ref | None = Field(description="The inside rep, who keeps the credit")
    to_user: Ref | None = Field(description="The field rep")
    approved_by: Ref | None
    budget: Criterion
    authority: Criterion
    need: Criterion
    timeline: Criterion
    criteria_met: int
    notes: str
    proposed_meeting_at: datetime | None = Field(description="UTC")
    proposed_meeting_local: str | None = Field(description="The same time in the contact's zone (ISO 8601)")
    contact_timezone: str
    created_at: datetime
    submitted_at: datetime | None = Field(description="When it reached the field rep (after any approval)")
    decided_at: datetime | None
    rejection_reason: str
    sla_flagged_at: datetime | None


class HandoffList(BaseModel):
    items: list[HandoffOut]
    next_cursor: str | None


class HandoffQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: HandoffStatus | None = None
    cursor: str | None = Field(None, max_length=100)
    limit: int = Field(50, ge=1, le=MAX_LIMIT)


def _ref(user) -> Ref | None:
    return Ref(id=user.id, name=user.name) if user else None


def handoff_out(h: Handoff) -> HandoffOut:
    zone = h.lead.contact.timezone or "UTC"
    local = h.proposed_meeting_at.astimezone(zone_of(zone)).isoformat() if h.proposed_meeting_at else None
    return HandoffOut(
        id=h.id, lead=Ref(id=h.lead.id, name=h.lead.title), status=h.status, from_user=_ref(h.from_user),
        to_user=_ref(h.to_user), approved_by=_ref(h.approved_by),
        **{k: Criterion(answer=getattr(h, k), met=getattr(h, f"{k}_met"))
           for k in ("budget", "authority", "need", "timeline")},
        criteria_met=h.criteria_met, notes=h.notes, proposed_meeting_at=h.proposed_meeting_at,
        proposed_meeting_local=local, contact_timezone=zone, created_at=h.created_at, submitted_at=h.submitted_at,
        decided_at=h.decided_at, rejection_reason=h.rejection_reason, sla_flagged_at=h.sla_flagged_at)


DECISION_ERRORS = {403: "Not yours to decide", 409: "Already decided, or the lead is closed"}


@endpoint("/leads/<int:lead_id>/handoff", "POST", summary="Hand a lead in discover or nurture to field sales",
          tags=["handoffs"], body=HandoffIn, response=HandoffOut, status=201,
          responses={403: "Not yours to hand off", 409: "The lead already has an open hand-off"})
def create_handoff(lead_id: int, body: HandoffIn):
    user = current_api_user()
    lead = access.get_lead(user, lead_id, for_change=True)
    qualification = service.Qualification(
        **{k: getattr(body, k).answer for k in ("budget", "authority", "need", "timeline")},
        **{f"{k}_met": getattr(body, k).met for k in ("budget", "authority", "need", "timeline")}, notes=body.notes)
    handoff = service.hand_off(lead, actor=user, qualification=qualification, to_user_id=body.to_user_id,
                               meeting_at=body.proposed_meeting_at)
    return handoff_out(handoff)


@endpoint("/handoffs", summary="List hand-offs you may see (newest first)", tags=["handoffs"], query=HandoffQuery,
          response=HandoffList)
def list_handoffs(query: HandoffQuery):
    stmt = service.handoffs_for(current_api_user(), [query.status] if query.status else None)
    rows, cursor = page(stmt, Handoff.id, cursor=query.cursor, limit=query.limit, session=db.session)
    return HandoffList(items=[handoff_out(h) for h in rows], next_cursor=cursor)


@endpoint("/handoffs/<int:handoff_id>", summary="One hand-off", tags=["handoffs"], response=HandoffOut)
def get_handoff(handoff_id: int):
    return handoff_out(access.get_handoff(current_api_user(), handoff_id))


@endpoint("/handoffs/<int:handoff_id>/accept", "POST", summary="Accept: you become the field owner, lead to propose",
          tags=["handoffs"], response=HandoffOut, responses=DECISION_ERRORS)
def accept_handoff(handoff_id: int):
    user = current_api_user()
    return handoff_out(service.accept(access.get_handoff(user, handoff_id), actor=user))


@endpoint("/handoffs/<int:handoff_id>/reject", "POST", summary="Send back with a reason: lead to nurture, with a task",
          tags=["handoffs"], body=ReasonIn, response=HandoffOut, responses=DECISION_ERRORS)
def reject_handoff(handoff_id: int, body: ReasonIn):
    user = current_api_user()
    return handoff_out(service.send_back(access.get_handoff(user, handoff_id), actor=user, reason=body.reason))


@endpoint("/handoffs/<int:handoff_id>/approve", "POST", summary="A manager approves (or refuses, with a reason)",
          tags=["handoffs"], body=ApproveIn, response=HandoffOut, responses=DECISION_ERRORS)
def approve_handoff(handoff_id: int, body: ApproveIn):
    user = current_api_user()
    handoff = access.get_handoff(user, handoff_id)
    if body.approve:
        return handoff_out(service.approve(handoff, actor=user))
    return handoff_out(service.refuse(handoff, actor=user, reason=body.reason))
