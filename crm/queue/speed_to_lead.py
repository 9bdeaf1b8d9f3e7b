"""Speed-to-lead: open leads still waiting for a first outbound touch past their team's limit.

The wait counts working time only — 08:00 to 18:00, Monday to Friday, in the team's own
time zone — so a lead that arrives on Friday evening is not late on Saturday morning. A late
lead is flagged once (``Lead.speed_to_lead_flagged_at``) and each manager of its team gets one
email about it through the outbox (key ``speed-to-lead:{lead}:{manager}``). The scheduler job
(jobs/sla.py) calls flag_speed_to_lead_breaches(now).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from crm import access
from crm.auth.models import Role, Team, User
from crm.email.outbox import EmailBlocked, queue_email
from crm.extensions import db
from crm.i18n import in_language_of, zone_of
from crm.leads.models import Lead, LeadStatus

log = logging.getLogger(__name__)

WORK_START, WORK_END = time(8, 0), time(18, 0)
DEFAULT_LIMIT = 300
BATCH = 1000

BODY = """{{ s2l.greeting }}

{{ s2l.line }}
{{ s2l.link }}
"""


def working_seconds(start: datetime, end: datetime, zone_name: str, *, enough: float | None = None) -> float:
    """Seconds of working time (Mon–Fri 08:00–18:00 in ``zone_name``) between two instants.

    Stops counting once ``enough`` is reached (callers only ask "is it over the limit?").
    """
    if end <= start:
        return 0.0
    zone = zone_of(zone_name)
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    total = 0.0
    while day <= last:
        if day.weekday() < 5:
            opens = datetime.combine(day, WORK_START, tzinfo=zone).astimezone(UTC)
            closes = datetime.combine(day, WORK_END, tzinfo=zone).astimezone(UTC)
            overlap = (min(end, closes) - max(start, opens)).total_seconds()
            if overlap > 0:
                total += overlap
                if enough is not None and total >= enough:
                    return total
        day += timedelta(days=1)
    return total


def _waiting(now: datetime):
    """Open, untouched, unflagged leads older than the smallest possible limit (wall clock ≥ working time)."""
    smallest = db.session.scalar(select(func.min(Team.speed_to_lead_seconds))) or DEFAULT_LIMIT
    return (select(Lead).where(Lead.status == LeadStatus.OPEN, Lead.first_touch_at.is_(None),
                               Lead.speed_to_lead_flagged_at.is_(None),
                               Lead.created_at <= now - timedelta(seconds=min(smallest, DEFAULT_LIMIT)))
            .options(selectinload(Lead.team), selectinload(Lead.contact)).order_by(Lead.id))


def flag_speed_to_lead_breaches(now: datetime) -> int:
    """Flag every lead that has waited longer than its team's limit in working time; how many were flagged.

    Each is flagged once, and its team's managers are emailed once per lead. Safe to run often.
    """
    default_zone = current_app.config.get("DEFAULT_TIMEZONE") or "UTC"
    flagged = 0
    managers: dict[int, list[User]] = {}
    after = 0
    while True:
        batch = db.session.scalars(_waiting(now).where(Lead.id > after).limit(BATCH)).all()
        if not batch:
            break
        after = batch[-1].id
        for lead in batch:
            limit = lead.team.speed_to_lead_seconds if lead.team else DEFAULT_LIMIT
            zone = lead.team.timezone if lead.team else default_zone
            if working_seconds(lead.created_at, now, zone, enough=limit) < limit:
                continue
            lead.speed_to_lead_flagged_at = now
            flagged += 1
            if lead.team_id is not None:
                if lead.team_id not in managers:
                    managers[lead.team_id] = list(db.session.scalars(
                        select(User).where(User.team_id == lead.team_id, User.role == Role.MANAGER,
                                           User.active.is_(True)).order_by(User.id)))
                for manager in managers[lead.team_id]:
                    _tell(manager, lead, limit)
        db.session.flush()
    return flagged


def speed_to_lead_key(lead_id: int, manager_id: int) -> str:
    return f"speed-to-lead:{lead_id}:{manager_id}"


def _tell(manager: User, lead: Lead, limit: int) -> None:
    base_url = current_app.config["PUBLIC_URL"].rstrip("/")
    with in_language_of(manager):
        context = {
            "greeting": _("Hello %(name)s,", name=manager.name),
            "line": _("%(lead)s (%(contact)s) has waited more than %(minutes)d working minutes for a first touch.",
                      lead=lead.title, contact=lead.contact.full_name, minutes=max(1, limit // 60)),
            "link": f"{base_url}/leads/{lead.id}",
            "subject": _("Speed-to-lead: %(lead)s is waiting", lead=lead.title),
        }
    try:
        queue_email(idempotency_key=speed_to_lead_key(lead.id, manager.id), to_email=manager.email, user=manager,
                    lead=lead, subject="{{ s2l.subject }}", body=BODY, extra_context={"s2l": context})
    except EmailBlocked as exc:
        log.warning("no speed-to-lead email to manager %s: %s", manager.id, exc.message)


def flagged_leads(user: User, limit: int = 20) -> list[Lead]:
    """Flagged leads still waiting for a first touch, as ``user`` may see them, longest waiting first."""
    return list(db.session.scalars(
        select(Lead).where(access.lead_visibility(user), Lead.status == LeadStatus.OPEN,
                           Lead.first_touch_at.is_(None), Lead.speed_to_lead_flagged_at.is_not(None))
        .options(selectinload(Lead.contact), selectinload(Lead.owner))
        .order_by(Lead.created_at, Lead.id).limit(limit)))
