"""Who gets a new lead: round-robin over the team's active reps, skipping full ones.

A team in pool mode, or with no rep free, leaves the lead in the team's pool,
where Next lead hands it to the first rep without due work of their own.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from crm.auth.models import Role, Team, User
from crm.db import utcnow
from crm.extensions import db
from crm.leads.models import Lead, LeadStatus

_MICROSECOND = timedelta(microseconds=1)


def pick_owners(team_id: int | None, count: int) -> list[User | None]:
    """Owners for ``count`` new leads of the team, in turn, within caps; None means the pool."""
    if team_id is None or count <= 0:
        return [None] * max(count, 0)
    # Lock the team row so leads created at once never go to the same "next" rep.
    team = db.session.scalar(select(Team).where(Team.id == team_id).with_for_update())
    if team is None or team.pool_mode:
        return [None] * count
    reps = list(db.session.scalars(
        select(User).where(User.team_id == team_id, User.role == Role.REP, User.active.is_(True))
        .order_by(User.last_assigned_at.asc().nulls_first(), User.id)))
    # Open leads are counted only for reps with a cap, and only theirs (an index range each),
    # never over the whole table: this runs for every new lead and every import batch.
    capped = [rep.id for rep in reps if rep.capacity is not None]
    counts = dict(db.session.execute(
        select(Lead.owner_id, func.count()).where(Lead.owner_id.in_(capped), Lead.status == LeadStatus.OPEN)
        .group_by(Lead.owner_id)).all()) if capped else {}
    room = {rep.id: (None if rep.capacity is None else rep.capacity - counts.get(rep.id, 0)) for rep in reps}
    owners: list[User | None] = []
    turn = 0
    for _ in range(count):
        chosen = None
        for step in range(len(reps)):
            rep = reps[(turn + step) % len(reps)]
            if room[rep.id] is None or room[rep.id] > 0:
                chosen = rep
                turn = (turn + step + 1) % len(reps)
                break
        if chosen is not None and room[chosen.id] is not None:
            room[chosen.id] -= 1
        owners.append(chosen)
    # Mark the reps in the order they were last given a lead, so the next batch continues the turn.
    now = utcnow()
    last_seen: dict[int, int] = {rep.id: i for i, rep in enumerate(owners) if rep is not None}
    for rep in reps:
        if rep.id in last_seen:
            rep.last_assigned_at = now + (last_seen[rep.id] - len(owners)) * _MICROSECOND
    return owners


def pick_owner(team_id: int | None) -> User | None:
    """The next rep of the team in turn with room under their cap, or None for the pool."""
    return pick_owners(team_id, 1)[0]
