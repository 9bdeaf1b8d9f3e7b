"""A rep's open tasks as an iCalendar feed (RFC 5545), for any calendar app.

Each open task is a VEVENT starting at its due time (15 minutes long, so it shows in day
views; Google Calendar and Outlook ignore VTODO), with a stable UID, so a calendar that
polls the feed updates events instead of duplicating them. Done and cancelled tasks drop out.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.auth.models import User
from crm.db import utcnow
from crm.extensions import db
from crm.tasks.models import Task, TaskStatus

EVENT_LENGTH = timedelta(minutes=15)
HORIZON_PAST = timedelta(days=90)  # very old overdue tasks still show, but not forever
MAX_EVENTS = 2000


def open_tasks_for(user: User, now: datetime) -> list[Task]:
    return list(db.session.scalars(
        select(Task).where(Task.assignee_id == user.id, Task.status == TaskStatus.OPEN,
                           Task.due_at >= now - HORIZON_PAST)
        .options(selectinload(Task.lead), selectinload(Task.contact)).order_by(Task.due_at, Task.id)
        .limit(MAX_EVENTS)))


def task_feed(user: User, now: datetime | None = None) -> bytes:
    """The user's open tasks as an .ics document."""
    now = now or utcnow()
    base_url = current_app.config["PUBLIC_URL"].rstrip("/")
    host = base_url.split("//", 1)[-1].split("/", 1)[0].split(":")[0] or "touchline"
    calendar = Calendar()
    calendar.add("prodid", "-//Touchline//Tasks//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"Touchline: {user.name}")
    calendar.add("x-wr-timezone", user.timezone or "UTC")
    calendar.add("refresh-interval", timedelta(minutes=15), parameters={"VALUE": "DURATION"})
    for task in open_tasks_for(user, now):
        event = Event()
        event.add("uid", f"task-{task.id}@{host}")
        event.add("dtstamp", now)
        event.add("dtstart", task.due_at)
        event.add("dtend", task.due_at + EVENT_LENGTH)
        event.add("summary", task.title)
        event.add("last-modified", task.updated_at or now)
        link = f"{base_url}/leads/{task.lead_id}" if task.lead_id else f"{base_url}/contacts/{task.contact_id}"
        who = task.contact.full_name if task.contact else ""
        event.add("description", "\n".join(part for part in (who, task.notes, link) if part))
        event.add("url", link)
        event.add("categories", [task.kind.value])
        event.add("status", "CONFIRMED")
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    return calendar.to_ical()
