"""The lead list's filters, shared by the page, the API and the CSV export."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from crm.access import lead_visibility
from crm.auth.models import User
from crm.contacts.search import matches_search
from crm.extensions import db
from crm.leads.models import Campaign, Lead, LeadStatus, Source, Stage


class LeadFilters(BaseModel):
    model_config = ConfigDict(extra="ignore")

    owner_id: int | None = Field(None, description="Owner's user id; 0 for the unassigned pool")
    stage: Stage | None = None
    status: LeadStatus | None = None
    source: str | None = Field(None, max_length=120, description="Source name")
    campaign: str | None = Field(None, max_length=160, description="Campaign name or id")
    created_from: date | None = Field(None, description="First day, in the user's time zone")
    created_to: date | None = Field(None, description="Last day, in the user's time zone")
    q: str | None = Field(None, max_length=200, description="Name, company, email or phone of the contact")


def _day_start(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone))


def filtered_leads(user: User, filters: LeadFilters):
    """select(Lead) as ``user`` may see it, narrowed by ``filters``."""
    stmt = select(Lead).where(lead_visibility(user))
    if filters.owner_id is not None:
        stmt = stmt.where(Lead.owner_id.is_(None) if filters.owner_id == 0 else Lead.owner_id == filters.owner_id)
    if filters.stage:
        stmt = stmt.where(Lead.stage == filters.stage)
    if filters.status:
        stmt = stmt.where(Lead.status == filters.status)
    if filters.source:
        stmt = stmt.where(Lead.source_id.in_(select(Source.id).where(func.lower(Source.name) == filters.source.lower())))
    if filters.campaign:
        key = filters.campaign.strip()
        cond = Campaign.id == int(key) if key.isdigit() else func.lower(Campaign.name) == key.lower()
        stmt = stmt.where(Lead.campaign_id.in_(select(Campaign.id).where(cond)))
    if filters.created_from:
        stmt = stmt.where(Lead.created_at >= _day_start(filters.created_from, user.timezone))
    if filters.created_to:
        stmt = stmt.where(Lead.created_at < _day_start(filters.created_to + timedelta(days=1), user.timezone))
    if filters.q:
        stmt = stmt.where(matches_search(Lead.contact_id, filters.q, db.session, user))
    return stmt
