"""Who gets a new lead: round-robin over the team's active reps, skipping full ones.

A team in pool mode, or with no rep free, leaves the lead in the team's pool,
where Next lead hands it to the first rep without due work of their own.
"""

from __future__ import annotations

from sqlalchemy import func, select

from crm.auth.models import Role, Team, User
from crm.db import utcnow
from crm.extensions import db
from crm.leads.models import Lead, LeadStatus


def pick_owner(team_id: int | None) -> User | None:
    """The next rep of the team in turn with room under their cap, or None for the pool."""
    if team_id is None:
        return None
    # Lock the team row so two leads created at once never go to the same "next" rep.
    team = db.session.scalar(select(Team).where(Team.id == team_id).with_for_update())
    if team is None or team.pool_mode:
        return None
    open_leads = (
        select(Lead.owner_id, func.count().label("n")).where(Lead.status == LeadStatus.OPEN)
        .group_by(Lead.owner_id).subquery()
    )
    rep = db.session.scalar(
        select(User)
        .outerjoin(open_leads, open_leads.c.owner_id == User.id)
        .where(User.team_id == team_id, User.role == Role.REP, User.active.is_(True),
               (User.capacity.is_(None)) | (func.coalesce(open_leads.c.n, 0) < User.capacity))
        .order_by(User.last_assigned_at.asc().nulls_first(), User.id)
        .limit(1)
    )
    if rep is not None:
        rep.last_assigned_at = utcnow()
    return rep
