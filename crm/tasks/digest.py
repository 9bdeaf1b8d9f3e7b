"""The morning digest: at 08:00 in each user's own time zone, their tasks for the day and what is overdue.

The job runs every 15 minutes and queues a digest for every active user whose local
time is between 08:00 and noon and who has open tasks due today or earlier. The
outbox key f"digest:{user_id}:{local_date}" makes it one email per user per day,
however often the job runs; a scheduler down all morning sends none that day
(a digest in the afternoon is no longer a morning plan).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from babel.dates import format_date, format_time
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.auth.models import User
from crm.email.models import OutboundEmail
from crm.email.outbox import EmailBlocked, queue_email
from crm.extensions import db
from crm.i18n import in_language_of, zone_of
from crm.tasks.models import Task, TaskStatus

log = logging.getLogger(__name__)

DIGEST_FROM = time(8, 0)
DIGEST_UNTIL = time(12, 0)

# Rendered in the outbox's sandbox; task titles are values, never template source.
DIGEST_BODY = """{{ digest.greeting }}

{{ digest.today_heading }}
{% for t in digest.today %}- {{ t.when }}  {{ t.title }}{% if t.link %}  {{ t.link }}{% endif %}

{% else %}{{ digest.nothing_today }}
{% endfor %}
{% if digest.overdue %}
{{ digest.overdue_heading }}
{% for t in digest.overdue %}- {{ t.when }}  {{ t.title }}{% if t.link %}  {{ t.link }}{% endif %}

{% endfor %}{% endif %}
{{ digest.footer }}
"""


def digest_key(user_id: int, local_date: date) -> str:
    return f"digest:{user_id}:{local_date.isoformat()}"


@dataclass(frozen=True)
class LocalDay:
    date: date
    start: datetime  # UTC
    end: datetime  # UTC; 23 or 25 hours after start on a daylight saving change


def local_day(now: datetime, zone_name: str) -> LocalDay:
    zone = zone_of(zone_name)
    today = now.astimezone(zone).date()
    start = datetime.combine(today, time(0), tzinfo=zone)
    end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=zone)
    return LocalDay(today, start.astimezone(UTC), end.astimezone(UTC))


def in_digest_window(now: datetime, zone_name: str) -> bool:
    return DIGEST_FROM <= now.astimezone(zone_of(zone_name)).time() < DIGEST_UNTIL


def tasks_for_digest(user: User, day: LocalDay) -> tuple[list[Task], list[Task]]:
    """(due today, overdue from before today): the user's open tasks, soonest first."""
    rows = db.session.scalars(
        select(Task).where(Task.assignee_id == user.id, Task.status == TaskStatus.OPEN, Task.due_at < day.end)
        .options(selectinload(Task.lead), selectinload(Task.contact)).order_by(Task.due_at, Task.id)
    ).all()
    return [t for t in rows if t.due_at >= day.start], [t for t in rows if t.due_at < day.start]


def queue_due_digests(now: datetime) -> int:
    """Queue today's digest for every user whose morning it is and who has something due; how many."""
    users = [u for u in db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.id))
             if in_digest_window(now, u.timezone)]
    days = {u.id: local_day(now, u.timezone) for u in users}
    keys = {u.id: digest_key(u.id, days[u.id].date) for u in users}
    sent = set(db.session.scalars(select(OutboundEmail.idempotency_key)
                                  .where(OutboundEmail.idempotency_key.in_(list(keys.values())))))
    queued = 0
    for user in users:
        if keys[user.id] in sent:
            continue
        today, overdue = tasks_for_digest(user, days[user.id])
        if not today and not overdue:
            continue
        try:
            queue_digest(user, days[user.id], today, overdue)
        except EmailBlocked as exc:
            log.warning("no digest for user %s: %s", user.id, exc.message)
            continue
        queued += 1
    return queued


def queue_digest(user: User, day: LocalDay, today: list[Task], overdue: list[Task]) -> OutboundEmail:
    zone = zone_of(user.timezone)
    base_url = current_app.config["PUBLIC_URL"].rstrip("/")

    def item(task: Task, when: str) -> dict:
        link = f"{base_url}/leads/{task.lead_id}" if task.lead_id else ""
        return {"title": task.title, "when": when, "link": link}

    with in_language_of(user) as locale:
        context = {
            "greeting": _("Good morning, %(name)s. Here is your day.", name=user.name),
            "today_heading": _("Due today (%(date)s)", date=format_date(day.date, "full", locale=locale)),
            "nothing_today": _("Nothing is due today."),
            "overdue_heading": _("Overdue"),
            "footer": _("Open Touchline: %(url)s", url=base_url + "/"),
            "today": [item(t, format_time(t.due_at.astimezone(zone), "short", locale=locale)) for t in today],
            "overdue": [item(t, format_date(t.due_at.astimezone(zone).date(), "medium", locale=locale))
                        for t in overdue],
        }
        subject = _("Your day: %(today)d due today, %(overdue)d overdue", today=len(today), overdue=len(overdue))
    return queue_email(idempotency_key=digest_key(user.id, day.date), to_email=user.email, user=user,
                       subject=subject, body=DIGEST_BODY,
                       extra_context={"digest": context})
