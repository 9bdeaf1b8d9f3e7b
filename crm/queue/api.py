"""/api/v1/queue: the work list, Next lead, leases, and reassigning leads."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm import access
from crm.api import current_api_user, endpoint
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.leads.api import LeadOut, lead_out
from crm.leads.models import Lead
from crm.queue import service
from crm.queue.service import MAX_LIMIT, MAX_REASSIGN, Reason, WorkItem
from crm.touches.models import Channel

_LOADS = [selectinload(Lead.contact), selectinload(Lead.owner), selectinload(Lead.field_owner),
          selectinload(Lead.source), selectinload(Lead.campaign), selectinload(Lead.lost_reason)]


class QueueItemOut(BaseModel):
    lead: LeadOut
    reason: Reason = Field(description="Why the lead is in the list: follow_up (overdue), new_lead (not touched yet), "
                                       "cadence_step (due now), pool (the team's unassigned pool), by_score (the rest)")
    reason_label: str
    since: datetime | None = Field(description="When the follow-up or step fell due, or when the lead came in")
    overdue_follow_ups: int
    step_channel: Channel | None
    step_position: int | None


class QueueList(BaseModel):
    items: list[QueueItemOut]


class QueueQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    limit: int = Field(50, ge=1, le=MAX_LIMIT)


class ClaimOut(QueueItemOut):
    lease_expires_at: datetime
    from_pool: bool = Field(description="The lead came from the team's pool and is now yours")


class LeaseOut(BaseModel):
    lead_id: int
    lease_expires_at: datetime


class ReassignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lead_ids: list[int] = Field(min_length=1, max_length=MAX_REASSIGN)
    owner_id: int = Field(ge=1, description="The rep who gets the leads")


class ReassignOut(BaseModel):
    items: list[LeadOut]


def _item_out(item: WorkItem, lead: Lead) -> dict:
    return {"lead": lead_out(lead), "reason": item.reason, "reason_label": item.label, "since": item.since,
            "overdue_follow_ups": item.tasks, "step_channel": item.channel, "step_position": item.step}


@endpoint("/queue", summary="The signed-in rep's work list, best first, with the reason for each lead",
          tags=["queue"], query=QueueQuery, response=QueueList)
def work_list(query: QueueQuery):
    user = current_api_user()
    items = service.work_items(user, limit=query.limit)
    leads = {lead.id: lead for lead in db.session.scalars(
        select(Lead).where(Lead.id.in_([i.lead_id for i in items])).options(*_LOADS))} if items else {}
    return QueueList(items=[QueueItemOut(**_item_out(i, leads[i.lead_id])) for i in items])


@endpoint("/queue/next", "POST", summary="Claim the next lead for a lease (204 when there is nothing to do)",
          tags=["queue"], response=ClaimOut,
          responses={204: "Nothing to do", 403: "Only active inside-sales reps have a queue"})
def next_lead():
    claim = service.claim_next(current_api_user(), with_related=True)
    if claim is None:
        return None, 204
    return ClaimOut(**_item_out(claim.item, claim.lead), lease_expires_at=claim.expires_at, from_pool=claim.from_pool)


@endpoint("/leads/<int:lead_id>/lease", "POST", summary="Renew your lease on a lead you are working",
          tags=["queue"], response=LeaseOut,
          responses={409: "The lease expired (`lease_expired`) or someone else holds the lead (`lease_taken`)"})
def renew_lease(lead_id: int):
    user = current_api_user()
    lead = access.get_lead(user, lead_id)
    return LeaseOut(lead_id=lead.id, lease_expires_at=service.renew_lease(user, lead))


@endpoint("/leads/<int:lead_id>/lease", "DELETE", summary="Let go of your lease on a lead", tags=["queue"],
          status=204)
def release_lease(lead_id: int):
    user = current_api_user()
    service.release_lease(user, access.get_lead(user, lead_id))
    return None, 204


@endpoint("/leads/reassign", "POST", summary="Give one or many leads to a rep (managers: their team's reps)",
          tags=["leads"], body=ReassignIn, response=ReassignOut,
          responses={403: "Not a manager, or the rep is outside your team"})
def reassign(body: ReassignIn):
    from crm.auth.models import User

    user = current_api_user()
    owner = db.session.get(User, body.owner_id)
    if owner is None:
        raise ValidationFailed(_("No such user."), fields={"owner_id": _("Unknown user.")})
    moved = service.reassign_leads(user, body.lead_ids, owner)
    return ReassignOut(items=[lead_out(lead) for lead in moved])
