"""Targets managers set per rep or team and period, and how far each has got (attainment).

Actuals follow docs/metrics.md (Targets): the period's days are the rep's or team's own
local days. Targets sharing a period and zone are measured together: a few grouped
queries per distinct period, not per target.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, select

from crm import access
from crm.audit.service import record
from crm.auth.models import Team, User
from crm.db import utcnow
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.handoffs.models import Handoff, HandoffStatus
from crm.i18n import zone_of
from crm.leads.models import Lead, LeadStatus
from crm.reports.models import Target, TargetMetric
from crm.reports.periods import Period
from crm.reports.sql import in_period
from crm.touches.models import Channel, Direction, Outcome, Touch

MAX_TARGET = Decimal("99999999999999")


@dataclass
class Attainment:
    target: Target
    actual: Decimal
    ratio: float | None  # actual / value; None (a dash) when the target is 0


def visible_targets(user: User) -> list[Target]:
    return list(db.session.scalars(select(Target).where(access.target_visibility(user))
                                   .order_by(Target.period_start.desc(), Target.id)))


def save_target(target: Target | None, *, actor: User, subject: str, metric, period_start: date | None,
                period_end: date | None, value) -> Target:
    """Create or change a target; ``subject`` is "user:<id>" or "team:<id>". Errors name their field."""
    errors: dict[str, str] = {}
    subject_user, team_id = _subject(subject, errors)
    try:
        metric = TargetMetric(metric)
    except ValueError:
        errors["metric"] = str(_l("Pick a metric."))
    if period_start is None:
        errors["period_start"] = str(_l("Give the first day."))
    if period_end is None:
        errors["period_end"] = str(_l("Give the last day."))
    elif period_start is not None and period_end < period_start:
        errors["period_end"] = str(_l("The last day is before the first."))
    try:
        amount = Decimal(str(value)) if value not in (None, "") else None
    except ArithmeticError:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount > MAX_TARGET:
        errors["value"] = str(_l("A number, 0 or more."))
    if errors:
        raise ValidationFailed(str(_l("The target is not valid.")), fields=errors)
    access.check_target_subject(actor, subject_user=subject_user, subject_team_id=team_id)
    is_new = target is None
    target = target or Target()
    target.user_id = subject_user.id if subject_user else None
    target.team_id = team_id
    target.metric, target.period_start, target.period_end = metric, period_start, period_end
    target.value = amount.quantize(Decimal("0.01"))
    db.session.add(target)
    db.session.flush()
    record(actor, "target.created" if is_new else "target.changed", target,
           {"metric": metric, "value": target.value, "subject": subject})
    return target


def delete_target(target: Target, *, actor: User) -> None:
    access.check_target_subject(actor, subject_user=target.user, subject_team_id=target.team_id)
    record(actor, "target.deleted", target, {"metric": target.metric, "value": target.value})
    db.session.delete(target)
    db.session.flush()


def _subject(subject: str, errors: dict) -> tuple[User | None, int | None]:
    kind, _, ident = (subject or "").partition(":")
    if kind not in ("user", "team") or not ident.isdigit():
        errors["subject"] = str(_l("Pick a rep or a team."))
        return None, None
    if kind == "user":
        user = db.session.get(User, int(ident))
        if user is None:
            errors["subject"] = str(_l("No such rep."))
        return user, None
    if db.session.get(Team, int(ident)) is None:
        errors["subject"] = str(_l("No such team."))
        return None, None
    return None, int(ident)


def subject_zone(target: Target) -> str:
    if target.user is not None:
        return target.user.timezone or "UTC"
    return target.team.timezone if target.team is not None else "UTC"


def attainment(targets: list[Target]) -> list[Attainment]:
    """Each target's actual so far and its share of the value, measured per distinct period."""
    groups: dict[tuple, list[Target]] = defaultdict(list)
    for target in targets:
        groups[(target.period_start, target.period_end, subject_zone(target))].append(target)
    actuals: dict[int, Decimal] = {}
    for (first, last, zone), members in groups.items():
        actuals.update(_measure(Period(first, last, zone), members))
    return [Attainment(t, actuals.get(t.id, Decimal(0)),
                       float(actuals.get(t.id, Decimal(0)) / t.value) if t.value else None) for t in targets]


def _measure(period: Period, targets: list[Target]) -> dict[int, Decimal]:
    team_ids = {t.team_id for t in targets if t.team_id is not None}
    members = defaultdict(set)
    for user_id, team_id in db.session.execute(select(User.id, User.team_id).where(User.team_id.in_(team_ids))):
        members[team_id].add(user_id)
    people = {t.user_id for t in targets if t.user_id is not None} | {u for ids in members.values() for u in ids}
    per_user = _per_user(period, people)
    won_by_owner, won_by_team = _won(period, people, team_ids)
    result = {}
    for t in targets:
        if t.metric in (TargetMetric.WON_COUNT, TargetMetric.WON_VALUE):
            source = won_by_team.get(t.team_id) if t.team_id else won_by_owner.get(t.user_id)
            count, value = source or (0, Decimal(0))
            result[t.id] = Decimal(count) if t.metric == TargetMetric.WON_COUNT else Decimal(str(value))
        else:
            ids = members.get(t.team_id, set()) if t.team_id else {t.user_id}
            result[t.id] = Decimal(sum(per_user.get(u, {}).get(t.metric.value, 0) for u in ids))
    return result


def _per_user(period: Period, people: set[int]) -> dict[int, dict[str, int]]:
    if not people:
        return {}
    outbound_call = and_(Touch.channel == Channel.CALL, Touch.direction == Direction.OUTBOUND)
    figures: dict[int, dict[str, int]] = defaultdict(dict)
    rows = db.session.execute(
        select(Touch.user_id, func.count(), func.coalesce(func.sum(case((Touch.outcome == Outcome.CONNECTED, 1),
                                                                        else_=0)), 0))
        .where(Touch.user_id.in_(people), outbound_call, in_period(Touch.occurred_at, period.start, period.end))
        .group_by(Touch.user_id))
    for user_id, calls, connects in rows:
        figures[user_id].update(calls=int(calls), connects=int(connects))
    rows = db.session.execute(
        select(Handoff.from_user_id, func.count()).where(
            Handoff.from_user_id.in_(people), Handoff.status != HandoffStatus.CANCELLED,
            in_period(Handoff.created_at, period.start, period.end)).group_by(Handoff.from_user_id))
    for user_id, sent in rows:
        figures[user_id]["handoffs"] = int(sent)
    return figures


def _won(period: Period, people: set[int], team_ids: set[int]):
    won = [Lead.status == LeadStatus.WON, in_period(Lead.closed_at, period.start, period.end)]
    by_owner = {owner: (int(n), v or 0) for owner, n, v in db.session.execute(
        select(Lead.owner_id, func.count(), func.sum(Lead.value)).where(*won, Lead.owner_id.in_(people))
        .group_by(Lead.owner_id))} if people else {}
    by_team = {team: (int(n), v or 0) for team, n, v in db.session.execute(
        select(Lead.team_id, func.count(), func.sum(Lead.value)).where(*won, Lead.team_id.in_(team_ids))
        .group_by(Lead.team_id))} if team_ids else {}
    return by_owner, by_team


def current_targets_for(user: User, now: datetime | None = None) -> list[Attainment]:
    """The rep's own and their team's targets whose period contains today (their dashboard)."""
    today = (now or utcnow()).astimezone(zone_of(user.timezone)).date()
    subject = Target.user_id == user.id
    if user.team_id is not None:
        subject = subject | (Target.team_id == user.team_id)
    targets = list(db.session.scalars(select(Target).where(subject, Target.period_start <= today,
                                                           Target.period_end >= today).order_by(Target.metric)))
    return attainment(targets)
