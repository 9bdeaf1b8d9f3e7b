"""The weekly report: Monday 07:00 in each manager's own time zone, last week's funnel and team KPIs.

The job runs every 15 minutes and queues the email for every active manager with a team
whose local time is Monday between 07:00 and noon. The outbox key
f"weekly-report:{manager_id}:{monday}" makes it one email per manager per week however
often the job runs; the week is the seven local days (Monday to Sunday) before that Monday.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from babel.dates import format_date
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from crm.auth.models import Role, User
from crm.email.models import OutboundEmail
from crm.email.outbox import EmailBlocked, queue_email
from crm.extensions import db
from crm.i18n import in_language_of, zone_of
from crm.reports import layout, service
from crm.reports.periods import Criteria, Period

log = logging.getLogger(__name__)

SEND_FROM = time(7, 0)
SEND_UNTIL = time(12, 0)

BODY = """{{ weekly.greeting }}

{% for section in weekly.sections %}{{ section.title }}
{% for row in section.rows %}- {{ row.label }}: {{ row.current_text }} ({{ weekly.before }} {{ row.previous_text }})
{% endfor %}
{% endfor %}{{ weekly.footer }}
"""

KPIS = ("outbound_calls", "connects", "connect_rate", "aht_seconds", "speed_to_lead_median_seconds",
        "follow_up_compliance", "handoffs_sent", "acceptance_rate")
INBOUND_KPIS = ("offered", "abandon_rate", "asa_seconds", "service_level", "csat")


def weekly_key(manager_id: int, monday) -> str:
    return f"weekly-report:{manager_id}:{monday.isoformat()}"


def due_week(now: datetime, zone_name: str) -> Period | None:
    """Last week (local Monday–Sunday) when it is Monday morning in ``zone_name``, else None."""
    local = now.astimezone(zone_of(zone_name))
    if local.weekday() != 0 or not SEND_FROM <= local.time() < SEND_UNTIL:
        return None
    monday = local.date()
    return Period(monday - timedelta(days=7), monday - timedelta(days=1), zone_name)


def queue_weekly_reports(now: datetime) -> int:
    """Queue the weekly report for each manager whose Monday morning it is; returns how many."""
    managers = db.session.scalars(select(User).where(User.active.is_(True), User.role == Role.MANAGER,
                                                     User.team_id.is_not(None)).order_by(User.id)).all()
    due = {m.id: week for m in managers if (week := due_week(now, m.timezone or "UTC")) is not None}
    keys = {mid: weekly_key(mid, week.last_day + timedelta(days=1)) for mid, week in due.items()}
    done = set(db.session.scalars(select(OutboundEmail.idempotency_key)
                                  .where(OutboundEmail.idempotency_key.in_(list(keys.values()))))) if keys else set()
    queued = 0
    for manager in managers:
        if manager.id not in due or keys[manager.id] in done:
            continue
        try:
            queue_weekly_report(manager, due[manager.id], now)
        except EmailBlocked as exc:
            log.warning("no weekly report for manager %s: %s", manager.id, exc.message)
            continue
        queued += 1
    return queued


def queue_weekly_report(manager: User, week: Period, now: datetime) -> OutboundEmail:
    criteria = Criteria(week, team_id=manager.team_id)
    funnel = service.funnel(criteria)
    activity = service.activity(criteria, now)["total"]
    inbound = service.inbound(criteria)
    base_url = current_app.config["PUBLIC_URL"].rstrip("/")
    activity_spec = [row for row in layout.ACTIVITY if row[0] in KPIS]
    inbound_spec = [row for row in layout.INBOUND if row[0] in INBOUND_KPIS]
    funnel_url = f"{base_url}/reports/funnel"
    with in_language_of(manager) as locale:
        sections = [
            {"title": _("Funnel: leads created last week"),
             "rows": _plain(layout.comparison_rows(funnel["current"], funnel["previous"], layout.FUNNEL[:12]))},
            {"title": _("Team activity"),
             "rows": _plain(layout.comparison_rows(activity["current"], activity["previous"], activity_spec))},
            {"title": _("Inbound calls"),
             "rows": _plain(layout.comparison_rows(inbound["current"], inbound["previous"], inbound_spec))},
        ]
        context = {
            "greeting": _("Good morning, %(name)s. Your team's week %(first)s to %(last)s:", name=manager.name,
                          first=format_date(week.first_day, "medium", locale=locale),
                          last=format_date(week.last_day, "medium", locale=locale)),
            "before": _("the week before:"),
            "sections": sections,
            "footer": _("All figures and their definitions: %(url)s", url=funnel_url),
        }
        subject = _("Your team's week: %(created)d new leads, %(won)d won", created=funnel["current"]["created"],
                    won=funnel["current"]["won"])
    return queue_email(idempotency_key=weekly_key(manager.id, week.last_day + timedelta(days=1)),
                       to_email=manager.email, user=manager, subject=subject, body=BODY,
                       extra_context={"weekly": context})


def _plain(rows: list[dict]) -> list[dict]:
    """Only text goes into the email's template context."""
    return [{"label": str(r["label"]), "current_text": r["current_text"], "previous_text": r["previous_text"]}
            for r in rows]
