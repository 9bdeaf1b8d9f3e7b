"""Recycling: an open lead nobody has worked for N days goes back to its team's pool.

"Worked" means a touch on any channel, or any change to the lead itself (a stage
move, a claim, a new owner: all of them update the lead row). N is an admin
setting, 30 days by default.

What is left behind: an audit event ``lead.recycled`` (who had it, since when), and
a note on the lead's timeline as a task that is already done (origin "recycle").
Not a StageChange: the stage does not change, and the funnel and time-in-stage are
computed from StageChange. Not a Touch: nothing happened with the contact, and a
touch would count in the KPIs and reset the very clock this job reads. The done
task is on the timeline, in nobody's to-do list, and its dedupe_key makes each
recycle happen once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from babel.dates import format_date, format_time
from flask_babel import gettext as _
from sqlalchemy import or_, select

from crm.audit.service import record
from crm.auth.models import User
from crm.db import skip_locked
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.i18n import in_language_of, zone_of
from crm.leads.models import Lead, LeadStatus
from crm.scheduler.settings import read_setting, write_setting
from crm.tasks.dedupe import add_once
from crm.tasks.models import Task, TaskKind, TaskStatus

SETTING_KEY = "recycle.after_days"
DEFAULT_DAYS = 30
MAX_DAYS = 3650
BATCH = 2000  # leads per run; the rest go at the next run


def check_days(value) -> int:
    try:
        days = int(str(value).strip())
    except (TypeError, ValueError):
        days = None
    if days is None or days < 1 or days > MAX_DAYS:
        raise ValidationFailed(_("The recycle period is not valid."),
                               fields={"recycle_after_days": _("Between 1 and %(max)d days.", max=MAX_DAYS)})
    return days


def recycle_after_days() -> int:
    stored = read_setting(SETTING_KEY)
    return DEFAULT_DAYS if stored is None else check_days(stored)


def save_recycle_days(value, *, actor) -> int:
    days = check_days(value)
    write_setting(SETTING_KEY, days, actor=actor)
    return days


def untouched_leads(now: datetime, days: int):
    """Owned open leads with no touch and no change for ``days``, and nobody working them now."""
    cutoff = now - timedelta(days=days)
    return (
        select(Lead)
        .where(Lead.status == LeadStatus.OPEN, Lead.owner_id.is_not(None), Lead.updated_at < cutoff,
               or_(Lead.last_touch_at.is_(None), Lead.last_touch_at < cutoff),
               or_(Lead.claim_expires_at.is_(None), Lead.claim_expires_at < now))
        .order_by(Lead.id)
        .limit(BATCH)
    )


def recycle_key(lead: Lead) -> str:
    """One recycle per stretch of neglect: the lead and the moment it was last worked."""
    last_worked = max(t for t in (lead.updated_at, lead.last_touch_at) if t is not None)
    return f"recycle:{lead.id}:{last_worked:%Y%m%dT%H%M%S}"


def recycle_untouched_leads(now: datetime) -> int:
    """Return neglected leads to their team's pool, each with a note and an audit event; how many."""
    days = recycle_after_days()
    leads = db.session.scalars(skip_locked(untouched_leads(now, days), db.session)).all()
    owners = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_({lead.owner_id for lead in leads})))}
    recycled = 0
    for lead in leads:
        if recycle(lead, owners.get(lead.owner_id), now=now, days=days):
            recycled += 1
    return recycled


def recycle(lead: Lead, owner: User | None, *, now: datetime, days: int) -> bool:
    """Put one lead back in the pool; False if another run already did."""
    last_touch = lead.last_touch_at
    # The note tells the owner who lost the lead why, in their language and time zone.
    with in_language_of(owner) as locale:
        title = _("Back in the team pool: no touch for %(days)d days", days=days)
        if last_touch is None:
            last = _("never")
        else:
            local = last_touch.astimezone(zone_of(owner.timezone if owner else None))
            last = f"{format_date(local, 'medium', locale=locale)} {format_time(local, 'short', locale=locale)}"
        notes = _("%(owner)s had this lead; last touch: %(last)s.", owner=owner.name if owner else "—", last=last)
    note = Task(
        kind=TaskKind.FOLLOW_UP, lead_id=lead.id, contact_id=lead.contact_id, assignee_id=None, due_at=now,
        status=TaskStatus.DONE, completed_at=now, origin="recycle", dedupe_key=recycle_key(lead),
        title=title[:200], notes=notes)
    if not add_once(note):
        return False
    if lead.team_id is None and owner is not None:
        lead.team_id = owner.team_id  # "its team's pool": the owner's team when the lead had none
    lead.owner = None
    lead.claimed_by_id = None
    lead.claim_expires_at = None
    db.session.flush()
    record(None, "lead.recycled", lead, {"from_owner_id": getattr(owner, "id", None), "after_days": days,
                                          "last_touch_at": last_touch, "team_id": lead.team_id})
    return True
