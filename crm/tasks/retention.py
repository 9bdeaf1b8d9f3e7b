"""Retention callbacks: periodic calls to customers, the practice's way of keeping them.

For every won lead the owning inside rep gets a RETENTION_CALLBACK task 30, 90 and
180 days after the win, then every 180 days (an admin setting). Days are counted in
the customer's calendar and the call is due at 10:00 their time. A callback is keyed
f"retention:{lead_id}:{n}", so however often the job runs each is created once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from babel.dates import format_date
from flask_babel import gettext as _
from sqlalchemy import select, update

from crm.auth.models import User
from crm.contacts.models import Contact
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.i18n import in_language, zone_of
from crm.leads.models import Lead, LeadStatus
from crm.scheduler.settings import read_setting, write_setting
from crm.tasks.dedupe import add_once, existing_keys
from crm.tasks.models import Task, TaskKind, TaskStatus

log = logging.getLogger(__name__)

SETTING_KEY = "retention.schedule"
CALL_TIME = time(10, 0)  # in the customer's time zone, inside the usual calling hours
LOOKAHEAD = timedelta(days=1)  # callbacks appear in the rep's list a day ahead
MAX_DAYS = 3650
MAX_CALLBACKS = 200  # a lead won decades ago still ends the loop


@dataclass(frozen=True)
class RetentionSchedule:
    offsets_days: tuple[int, ...]  # days after the win, increasing
    repeat_days: int  # then one callback every this many days

    def day_of(self, n: int) -> int:
        """Days after the win of callback ``n`` (0 is the first)."""
        if n < len(self.offsets_days):
            return self.offsets_days[n]
        return self.offsets_days[-1] + self.repeat_days * (n - len(self.offsets_days) + 1)

    def as_setting(self) -> dict:
        return {"offsets_days": list(self.offsets_days), "repeat_days": self.repeat_days}


DEFAULT_SCHEDULE = RetentionSchedule(offsets_days=(30, 90, 180), repeat_days=180)


def check_schedule(offsets, repeat_days) -> RetentionSchedule:
    """A valid schedule from admin input ("30, 90, 180" or a list) or ValidationFailed beside the field."""
    errors = {}
    days: list[int] = []
    parts = offsets.replace(";", ",").split(",") if isinstance(offsets, str) else list(offsets or [])
    try:
        days = [int(str(p).strip()) for p in parts if str(p).strip()]
    except ValueError:
        errors["retention_offsets"] = _("Whole numbers of days, separated by commas (e.g. 30, 90, 180).")
    else:
        if not days:
            errors["retention_offsets"] = _("Give at least one callback day.")
        elif any(d < 1 or d > MAX_DAYS for d in days):
            errors["retention_offsets"] = _("Each day must be between 1 and %(max)d.", max=MAX_DAYS)
        elif any(b <= a for a, b in zip(days, days[1:], strict=False)):
            errors["retention_offsets"] = _("The days must increase (e.g. 30, 90, 180).")
    try:
        repeat = int(str(repeat_days).strip())
    except (TypeError, ValueError):
        errors["retention_repeat_days"] = _("A whole number of days.")
    else:
        if repeat < 1 or repeat > MAX_DAYS:
            errors["retention_repeat_days"] = _("Between 1 and %(max)d days.", max=MAX_DAYS)
    if errors:
        raise ValidationFailed(_("The retention schedule is not valid."), fields=errors)
    return RetentionSchedule(offsets_days=tuple(days), repeat_days=repeat)


def retention_schedule() -> RetentionSchedule:
    """The admin's schedule, or the default; a stored value that no longer validates fails loudly."""
    stored = read_setting(SETTING_KEY)
    if stored is None:
        return DEFAULT_SCHEDULE
    if not isinstance(stored, dict):
        raise ValidationFailed(f"Setting {SETTING_KEY} is not valid: {stored!r}")
    return check_schedule(stored.get("offsets_days"), stored.get("repeat_days"))


def save_retention_schedule(offsets, repeat_days, *, actor) -> RetentionSchedule:
    schedule = check_schedule(offsets, repeat_days)
    write_setting(SETTING_KEY, schedule.as_setting(), actor=actor)
    return schedule


def callback_due_at(won_at: datetime, n: int, schedule: RetentionSchedule, timezone: str) -> datetime:
    """When callback ``n`` is due: that many days after the win in the customer's calendar, 10:00 their time."""
    zone = zone_of(timezone)
    day = won_at.astimezone(zone).date() + timedelta(days=schedule.day_of(n))
    return datetime.combine(day, CALL_TIME, tzinfo=zone).astimezone(UTC)


def latest_due_callback(won_at: datetime, schedule: RetentionSchedule, timezone: str,
                        horizon: datetime) -> int | None:
    """The last callback due by ``horizon``; earlier ones a scheduler outage skipped are not made up."""
    latest = None
    for n in range(MAX_CALLBACKS):
        if callback_due_at(won_at, n, schedule, timezone) > horizon:
            break
        latest = n
    return latest


def callback_key(lead_id: int, n: int) -> str:
    return f"retention:{lead_id}:{n}"


def schedule_retention_callbacks(now: datetime) -> int:
    """Create the due retention callbacks and cancel open ones for do-not-call customers; how many."""
    schedule = retention_schedule()
    horizon = now + LOOKAHEAD
    # A day of slack for time zones: leads won too recently for any callback are not read.
    won_before = horizon - timedelta(days=schedule.offsets_days[0] - 1)
    rows = db.session.execute(
        select(Lead.id, Lead.closed_at, Lead.contact_id, Lead.owner_id, Lead.value, Lead.currency,
               Contact.timezone, Contact.first_name, Contact.last_name, User.locale)
        .join(Contact, Contact.id == Lead.contact_id)
        .join(User, User.id == Lead.owner_id)
        .where(Lead.status == LeadStatus.WON, Lead.closed_at.is_not(None), Lead.closed_at <= won_before,
               Contact.do_not_call.is_(False), Contact.erased_at.is_(None), User.active.is_(True))
        .order_by(Lead.id)
    ).all()
    due = {}
    for row in rows:
        n = latest_due_callback(row.closed_at, schedule, row.timezone, horizon)
        if n is not None:
            due[callback_key(row.id, n)] = (row, n)
    taken = existing_keys(list(due))
    created = 0
    for key, (row, n) in due.items():
        if key not in taken and add_once(_callback_task(row, n, schedule, key)):
            created += 1
    return created + cancel_do_not_call_callbacks()


def _callback_task(row, n: int, schedule: RetentionSchedule, key: str) -> Task:
    name = f"{row.first_name} {row.last_name}".strip()
    with in_language(row.locale) as locale:  # the owner's profile language
        title = _("Retention call %(n)d: %(name)s", n=n + 1, name=name)
        notes = _("Won on %(date)s; this call is %(days)d days later. Ask how it is going and log the call on "
                  "the lead.", date=format_date(row.closed_at.date(), "medium", locale=locale),
                  days=schedule.day_of(n))
    return Task(kind=TaskKind.RETENTION_CALLBACK, title=title[:200], notes=notes, lead_id=row.id,
                contact_id=row.contact_id, assignee_id=row.owner_id, due_at=callback_due_at(
                    row.closed_at, n, schedule, row.timezone), status=TaskStatus.OPEN, origin="retention",
                dedupe_key=key)


def cancel_do_not_call_callbacks() -> int:
    """Open retention callbacks to customers who since asked not to be called are cancelled."""
    blocked = select(Contact.id).where((Contact.do_not_call.is_(True)) | (Contact.erased_at.is_not(None)))
    result = db.session.execute(
        update(Task).where(Task.kind == TaskKind.RETENTION_CALLBACK, Task.status == TaskStatus.OPEN,
                           Task.contact_id.in_(blocked))
        .values(status=TaskStatus.CANCELLED).execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
