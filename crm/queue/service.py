"""The inside rep's lead queue: the ordered work list, claims with a lease, logging an outcome.

The work list, best first, each item saying why it is there:

1. follow-ups of the rep that are overdue,
2. the rep's new leads nobody has touched yet (speed-to-lead),
3. cadence steps due now (a call only within calling hours in the contact's own zone and
   never to a do-not-call contact; an email never to an opted-out contact),
4. the oldest leads of the team's unassigned pool (only after all of the rep's due work),
5. the rest of the rep's open leads, by score (leads touched in the last hours, or with a
   next step in the future, rest).

It is one SQL statement: a UNION ALL of one index-friendly branch per reason, each cut to
``limit`` rows, deduplicated here by lead keeping its best reason (exact for the top ``limit``).
A claim takes the first item nobody else holds in one UPDATE … WHERE id = (SELECT … FOR UPDATE
SKIP LOCKED) on PostgreSQL; on SQLite the same statement runs inside the write transaction.
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Integer,
    String,
    all_,
    and_,
    any_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    true,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.orm import aliased, selectinload

from crm import access
from crm.audit.service import record
from crm.auth.models import User
from crm.cadences.models import CadenceEnrollment, CadenceStep, EnrollmentState
from crm.calling_hours import calling_hours
from crm.contacts.models import Contact
from crm.db import UTCDateTime, is_postgresql, skip_locked, utcnow
from crm.errors import AccessDenied, Conflict, NotFound, ValidationFailed
from crm.extensions import db
from crm.leads.models import Campaign, Lead, LeadStatus, Source
from crm.tasks.models import Task, TaskKind, TaskStatus
from crm.touches.models import Channel, Direction
from crm.touches.service import log_touch

RESTING = timedelta(hours=12)  # a lead touched this recently leaves "the rest by score" for a while
MAX_LIMIT = 200


class Reason(enum.StrEnum):
    FOLLOW_UP = "follow_up"
    NEW_LEAD = "new_lead"
    CADENCE_STEP = "cadence_step"
    POOL = "pool"
    BY_SCORE = "by_score"


RANKS = {1: Reason.FOLLOW_UP, 2: Reason.NEW_LEAD, 3: Reason.CADENCE_STEP, 4: Reason.POOL, 5: Reason.BY_SCORE}
REASON_LABELS = {
    Reason.FOLLOW_UP: _l("Follow-up overdue"),
    Reason.NEW_LEAD: _l("New lead, not touched yet"),
    Reason.CADENCE_STEP: _l("Cadence step due"),
    Reason.POOL: _l("Waiting in the team's pool"),
    Reason.BY_SCORE: _l("Open lead, by score"),
}


class LeaseLost(Conflict):
    """The rep's lease on the lead expired or someone else holds it now."""

    code = "lease_lost"


@dataclass
class WorkItem:
    lead_id: int
    reason: Reason
    since: datetime | None  # due time of the follow-up / step, or when the lead came in
    tasks: int = 0  # overdue follow-ups on the lead
    channel: Channel | None = None  # the cadence step's channel
    step: int | None = None  # the cadence step's position
    lead: Lead | None = None

    @property
    def label(self) -> str:
        return str(REASON_LABELS[self.reason])


@dataclass
class Claim:
    lead: Lead
    item: WorkItem
    expires_at: datetime
    from_pool: bool


# --- calling hours --------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _all_zones() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


@functools.lru_cache(maxsize=8)
def _zones_open(minute: datetime, start: time, end: time) -> tuple[str, ...]:
    return tuple(z for z in _all_zones() if start <= minute.astimezone(ZoneInfo(z)).time() < end)


def zones_in_calling_hours(now: datetime) -> tuple[str, ...]:
    """The IANA zones whose local time is within calling hours now (unknown zones are never open)."""
    start, end = calling_hours()
    return _zones_open(now.astimezone(UTC).replace(second=0, microsecond=0), start, end)


def in_calling_hours(zone: str, now: datetime) -> bool:
    return zone in zones_in_calling_hours(now)


# --- the work list --------------------------------------------------------------------------------

def _not_held_by_others(user_id, now):
    return or_(Lead.claimed_by_id.is_(None), Lead.claimed_by_id == user_id, Lead.claim_expires_at <= now)


def _branch(lead_id, rank: int, sort_num, sort_at, *, tasks=None, channel=None, step=None, owner=None):
    return [lead_id.label("lead_id"), (owner if owner is not None else cast(null(), Integer)).label("owner_id"),
            literal_column(str(rank), Integer).label("rank"), type_coerce(sort_num, Integer).label("sort_num"),
            type_coerce(sort_at, UTCDateTime()).label("sort_at"),
            (tasks if tasks is not None else literal_column("0", Integer)).label("tasks"),
            (channel if channel is not None else cast(null(), String)).label("channel"),
            (step if step is not None else cast(null(), Integer)).label("step")]


@dataclass
class _Params:
    """Stand-ins for the rep in the statement: bind parameters, so one statement serves every rep."""

    id: object
    team_id: object


@functools.lru_cache(maxsize=16)
def _work_statement(has_team: bool, lateral: bool, ranks: tuple[int, ...] = (1, 2, 3, 4, 5)):
    """The work list's statement for reps with (or without) a team, built once; values come as parameters.

    ``ranks`` keeps only some reasons (a claim asks for the cheap, urgent ones first).
    """
    rep = _Params(bindparam("rep_id", type_=Integer), bindparam("team_id", type_=Integer) if has_team else None)
    now = bindparam("now", type_=UTCDateTime())
    if lateral:  # PostgreSQL: lists as one array parameter each, so the statement's text never changes
        from sqlalchemy.dialects.postgresql import ARRAY

        not_excluded = Lead.id != all_(bindparam("exclude", type_=ARRAY(Integer)))
        open_zone = Contact.timezone == any_(bindparam("zones", type_=ARRAY(String)))
    else:
        not_excluded = Lead.id.not_in(bindparam("exclude", expanding=True, type_=Integer))
        open_zone = Contact.timezone.in_(bindparam("zones", expanding=True, type_=String))
    limit, double_limit = bindparam("limit", type_=Integer), bindparam("double_limit", type_=Integer)
    free = and_(_not_held_by_others(rep.id, now), not_excluded)
    mine = and_(Lead.owner_id == rep.id, Lead.status == LeadStatus.OPEN, free)
    # Oldest overdue follow-up first, straight from the (assignee, status, due) index; a lead with
    # several shows once (the rows are deduplicated below), with how many are overdue. The lead's
    # owner is checked on the rows that come back: "owner = rep" on the joined lead makes PostgreSQL
    # expect almost no rows and scan every task instead of reading the index in order.
    also_due = aliased(Task)
    count_due = select(func.count()).select_from(also_due).where(
        also_due.lead_id == Task.lead_id, also_due.assignee_id == rep.id, also_due.status == TaskStatus.OPEN,
        also_due.due_at <= now).scalar_subquery()
    overdue = (
        select(*_branch(Task.lead_id, 1, literal_column("0", Integer), Task.due_at, tasks=count_due, owner=Lead.owner_id))
        .join(Lead, Lead.id == Task.lead_id)
        .where(Task.assignee_id == rep.id, Task.status == TaskStatus.OPEN, Task.due_at <= now,
               Lead.status == LeadStatus.OPEN, free)
        .order_by(Task.due_at, Task.lead_id).limit(double_limit)
    )
    new = (
        select(*_branch(Lead.id, 2, literal_column("0", Integer), Lead.created_at))
        .where(mine, Lead.first_touch_at.is_(None)).order_by(Lead.created_at, Lead.id).limit(limit)
    )
    offered = or_(
        and_(CadenceStep.channel == Channel.CALL, Contact.do_not_call.is_(False), Contact.phone.is_not(None),
             open_zone),
        and_(CadenceStep.channel == Channel.EMAIL, Contact.email_opt_out.is_(False), Contact.email.is_not(None)),
        CadenceStep.channel.not_in([Channel.CALL, Channel.EMAIL]),
    )
    if lateral:
        # PostgreSQL: walk the rep's open leads (an index-only scan) and look up each one's due step;
        # the contact is read only for leads that have one. A plain join starts from every due step
        # of every rep instead.
        step = (
            select(CadenceEnrollment.next_step_at, CadenceEnrollment.step_position, CadenceStep.channel)
            .join(CadenceStep, and_(CadenceStep.cadence_id == CadenceEnrollment.cadence_id,
                                    CadenceStep.position == CadenceEnrollment.step_position))
            .join(Contact, Contact.id == Lead.contact_id)
            .where(CadenceEnrollment.lead_id == Lead.id, CadenceEnrollment.state == EnrollmentState.ACTIVE,
                   CadenceEnrollment.next_step_at <= now, offered)
            .limit(1).lateral("step")
        )
        steps = select(*_branch(Lead.id, 3, literal_column("0", Integer), step.c.next_step_at, channel=step.c.channel,
                                step=step.c.step_position)).join(step, true())
    else:
        steps = select(*_branch(Lead.id, 3, literal_column("0", Integer), CadenceEnrollment.next_step_at,
                                channel=CadenceStep.channel, step=CadenceEnrollment.step_position)) \
            .join(CadenceEnrollment, CadenceEnrollment.lead_id == Lead.id) \
            .join(CadenceStep, and_(CadenceStep.cadence_id == CadenceEnrollment.cadence_id,
                                    CadenceStep.position == CadenceEnrollment.step_position)) \
            .join(Contact, Contact.id == Lead.contact_id) \
            .where(CadenceEnrollment.state == EnrollmentState.ACTIVE, CadenceEnrollment.next_step_at <= now, offered)
    steps = steps.where(mine).order_by(literal_column("sort_at"), Lead.id).limit(limit)
    # The pool of the rep's team and the pool of no team, each read in its index's order (one OR
    # between them would make PostgreSQL fetch and sort the whole pool). Each branch names its team alone,
    # not through access.queue_pool's OR of both (with that OR left in, a generic plan bitmap-scans and
    # sorts the whole pool on every claim); what a rep may take is still access's rule, checked on the
    # rows that come back (lead_workability).
    pools = [select(*_branch(Lead.id, 4, literal_column("0", Integer), Lead.created_at))
             .where(Lead.owner_id.is_(None), Lead.status == LeadStatus.OPEN, team, free)
             .order_by(Lead.created_at, Lead.id).limit(limit)
             for team in ([Lead.team_id == rep.team_id] if has_team else []) + [Lead.team_id.is_(None)]]
    waiting_step = exists().where(CadenceEnrollment.lead_id == Lead.id, CadenceEnrollment.state == EnrollmentState.ACTIVE,
                                  CadenceEnrollment.next_step_at > now)
    rest = (
        select(*_branch(Lead.id, 5, -Lead.score, func.coalesce(Lead.last_touch_at, Lead.created_at)))
        .where(mine, or_(Lead.next_action_at.is_(None), Lead.next_action_at <= now),
               or_(Lead.last_touch_at.is_(None), Lead.last_touch_at < bindparam("rested_before", type_=UTCDateTime())),
               ~waiting_step)
        .order_by(Lead.score.desc(), func.coalesce(Lead.last_touch_at, Lead.created_at), Lead.id).limit(limit)
    )
    by_rank = {1: [overdue], 2: [new], 3: [steps], 4: pools, 5: [rest]}
    branches = [select(*b.subquery().c) for rank in ranks for b in by_rank[rank]]
    every = union_all(*branches).subquery("work")
    return select(every).order_by(every.c.rank, every.c.sort_num, every.c.sort_at, every.c.lead_id)


def _work_params(rep: User, now: datetime, limit: int, exclude: tuple[int, ...], zones=list) -> dict:
    return {"rep_id": rep.id, "team_id": rep.team_id, "now": now, "exclude": list(exclude), "limit": limit,
            "double_limit": 2 * limit, "zones": zones(zones_in_calling_hours(now)), "rested_before": now - RESTING}


def work_items(rep: User, *, now: datetime | None = None, limit: int = 50, exclude: tuple[int, ...] = (),
               ranks: tuple[int, ...] = (1, 2, 3, 4, 5)) -> list[WorkItem]:
    """The rep's work list, best first, one item per lead with the reason it is there (one query)."""
    now = now or utcnow()
    limit = max(1, min(limit, MAX_LIMIT))
    if not access.may_use_queue(rep):
        return []
    seen: set[int] = set()
    items: list[WorkItem] = []
    params = _work_params(rep, now, limit, tuple(exclude))
    if rep.team_id is None:
        params.pop("team_id")
    postgresql = is_postgresql(db.session)
    statement = _work_statement(rep.team_id is not None, postgresql, ranks)
    if postgresql:
        # psycopg prepares a statement from its fifth run and PostgreSQL may then give it a generic plan,
        # chosen without the rep: at 1M leads the work list took 40 ms on custom plans, 100–270 ms on that one.
        db.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    for row in db.session.execute(statement, params):
        if row.lead_id in seen or row.owner_id not in (None, rep.id):
            continue
        seen.add(row.lead_id)
        items.append(WorkItem(lead_id=row.lead_id, reason=RANKS[row.rank], since=row.sort_at, tasks=row.tasks or 0,
                              channel=Channel(row.channel) if row.channel else None, step=row.step))
        if len(items) == limit:
            break
    return items


def work_list(rep: User, *, now: datetime | None = None, limit: int = 50) -> list[WorkItem]:
    """work_items with each item's lead and contact loaded (two more queries, whatever the length)."""
    items = work_items(rep, now=now, limit=limit)
    if items:
        leads = {lead.id: lead for lead in db.session.scalars(
            select(Lead).where(Lead.id.in_([i.lead_id for i in items]))
            .options(selectinload(Lead.contact), selectinload(Lead.campaign)))}
        for item in items:
            item.lead = leads[item.lead_id]
    return items


# --- claims and leases ----------------------------------------------------------------------------

def lease_length() -> timedelta:
    return timedelta(minutes=current_app.config.get("LEASE_MINUTES") or 15)


def _release_others(rep: User, keep: int | None = None) -> list[int]:
    stmt = update(Lead).where(Lead.claimed_by_id == rep.id)
    if keep is not None:
        stmt = stmt.where(Lead.id != keep)
    rows = db.session.execute(stmt.values(claimed_by_id=None, claim_expires_at=None).returning(Lead.id)
                              .execution_options(synchronize_session="fetch"))
    return [r[0] for r in rows]


def _take(rep: User, candidates: list[int], now: datetime) -> int | None:
    """Claim the first candidate nobody else holds, in one statement; its id, or None."""
    order = case({lead_id: i for i, lead_id in enumerate(candidates)}, value=Lead.id)
    free = _not_held_by_others(rep.id, now)
    pick = select(Lead.id).where(Lead.id.in_(candidates), free, access.lead_workability(rep)) \
        .order_by(order).limit(1)
    pick = skip_locked(pick, db.session).scalar_subquery()
    stmt = (update(Lead).where(Lead.id == pick, free)
            .values(claimed_by_id=rep.id, claim_expires_at=now + lease_length(),
                    owner_id=func.coalesce(Lead.owner_id, rep.id), team_id=func.coalesce(Lead.team_id, rep.team_id))
            .returning(Lead.id)
            .execution_options(synchronize_session="fetch"))
    return db.session.execute(stmt).scalar()


def claim_next(rep: User, *, now: datetime | None = None, skip: tuple[int, ...] = (),
               with_related: bool = False) -> Claim | None:
    """Claim the top item of the rep's list for a lease; None when there is nothing to do.

    The lead the rep held before is released and passed over (pressing Next lead again
    skips it); a pool lead becomes the rep's. Two reps never get the same lead.
    ``with_related``: the lead comes with its contact, source and campaign loaded (in the claim's
    own statement on PostgreSQL), for a caller that shows them at once, as the API's answer does.
    """
    now = now or utcnow()
    if not access.may_use_queue(rep):
        raise AccessDenied(str(_l("The queue is for inside-sales reps.")))
    if is_postgresql(db.session):
        return _claim_next_in_one_statement(rep, now, tuple(skip), with_related)
    left = tuple(_release_others(rep)) + tuple(skip)
    # Reasons in stages, each strictly before the next: a rep with a follow-up due never pays for
    # looking up cadence steps. At most three stages, each one statement (plus the claim).
    for ranks in CLAIM_STAGES:
        claim = _claim_from(rep, now, left, ranks)
        if claim is not None:
            return claim
    return None


CLAIM_STAGES = ((1, 2), (3,), (4, 5))


def _claim_from(rep: User, now: datetime, left: tuple[int, ...], ranks: tuple[int, ...]) -> Claim | None:
    for size in (16, 64, MAX_LIMIT):
        items = work_items(rep, now=now, limit=size, exclude=left, ranks=ranks)
        if not items:
            return None
        lead_id = _take(rep, [i.lead_id for i in items], now)
        if lead_id is not None:
            item = next(i for i in items if i.lead_id == lead_id)
            lead = db.session.scalar(select(Lead).where(Lead.id == lead_id).options(selectinload(Lead.contact))
                                     .execution_options(populate_existing=True))
            if item.reason == Reason.POOL:
                record(rep, "lead.claimed_from_pool", lead, {"owner_id": rep.id})
            return Claim(lead, item, lead.claim_expires_at, item.reason == Reason.POOL)
        if len(items) < size:
            return None
    return None


# PostgreSQL: the release, every stage, the claim and the pool audit row in one statement, built once.
# Each stage is a CTE that locks its first free, workable item (ORDER BY … LIMIT 1 FOR UPDATE SKIP
# LOCKED); a later stage's CTE is read only when the earlier ones came back empty (a one-time filter:
# PostgreSQL evaluates a CTE only as far as it is read), so the stages stay strictly in order and a rep
# with a follow-up due never pays for cadence steps. The first run reads the top CLAIM_FIRST items of
# each reason; only when none of those could be taken does a second run read up to MAX_LIMIT.
CLAIM_FIRST = 16
_PICKED = ("lead_id", "rank", "sort_at", "tasks", "channel", "step")
# What the claim's row can carry besides the lead: (model, the lead's key to it, the lead's relationship).
_CLAIM_RELATED = ((Contact, "contact_id", "contact"), (Source, "source_id", "source"),
                  (Campaign, "campaign_id", "campaign"))


@functools.lru_cache(maxsize=4)
def _claim_statement(has_team: bool, with_related: bool):
    """Built once per process for each kind; both arguments are always given, so each kind is one cache entry."""
    from sqlalchemy import insert
    from sqlalchemy.dialects.postgresql import ARRAY

    from crm.audit.models import AuditEvent
    from crm.auth.models import Role

    leads = Lead.__table__
    rep = _Params(bindparam("rep_id", type_=Integer), bindparam("team_id", type_=Integer) if has_team else None)
    rep.role, rep.active = Role.REP, True  # claim_next has checked may_use_queue
    now, expires = bindparam("now", type_=UTCDateTime()), bindparam("expires", type_=UTCDateTime())
    released = (update(leads).where(leads.c.claimed_by_id == rep.id)
                .values(claimed_by_id=null(), claim_expires_at=null(), updated_at=now)
                .returning(leads.c.id).cte("released"))
    stages = []
    for n, ranks in enumerate(CLAIM_STAGES):
        work = _work_statement(has_team, True, ranks).subquery(f"work{n}")
        stage = (select(*(work.c[name] for name in _PICKED)).join(Lead, Lead.id == work.c.lead_id)
                 .where(Lead.id.not_in(select(released.c.id)),
                        Lead.id != all_(bindparam("skip", type_=ARRAY(Integer))),
                        _not_held_by_others(rep.id, now), access.lead_workability(rep))
                 .order_by(work.c.rank, work.c.sort_num, work.c.sort_at, work.c.lead_id)
                 .limit(1).with_for_update(skip_locked=True, of=Lead).cte(f"stage{n}"))
        stages.append((stage, select(*stage.c).where(*(~exists(select(s.c.lead_id)) for s, _ in stages))))
    picked = union_all(*(rows for _, rows in stages)).cte("picked")
    claimed = (update(leads).where(leads.c.id == picked.c.lead_id, _not_held_by_others(rep.id, now))
               .values(claimed_by_id=rep.id, claim_expires_at=expires, updated_at=now,
                       owner_id=func.coalesce(leads.c.owner_id, rep.id),
                       team_id=func.coalesce(leads.c.team_id, rep.team_id) if has_team else leads.c.team_id)
               .returning(*(picked.c[name] for name in _PICKED), *(c.label(f"{leads.name}__{c.name}") for c in leads.c))
               .cte("claimed"))
    audit = insert(AuditEvent.__table__).from_select(
        ["actor_id", "action", "entity_type", "entity_id", "changes", "created_at"],
        select(rep.id, literal("lead.claimed_from_pool"), literal(Lead.__tablename__), claimed.c.lead_id,
               func.json_build_object("owner_id", rep.id), bindparam("audited_at", type_=UTCDateTime()))
        .where(claimed.c.rank == 4)).cte("audited")
    gone = select(func.array_agg(released.c.id).label("released")).subquery("gone")
    # The claimed lead's contact, source and campaign, when asked for (three lazy loads otherwise); a claim that
    # does not show them does not build them.
    related = [(model.__table__, claimed.c[f"{leads.name}__{fk}"]) for model, fk, _ in _CLAIM_RELATED if with_related]
    statement = select(gone.c.released, *claimed.c, *(c.label(f"{table.name}__{c.name}") for table, _ in related
                                                      for c in table.c)).select_from(gone).outerjoin(claimed, true())
    for table, fk in related:
        statement = statement.outerjoin(table, table.c.id == fk)
    return _Compiled(statement.add_cte(audit))


class _Compiled:
    """A statement compiled once for PostgreSQL and run as its SQL text through psycopg's raw cursor
    (numbered parameters, ``$1``): a claim pays neither for SQLAlchemy's cache key of a large statement, nor for
    ORM result loading, nor for psycopg parsing 13 kB of SQL for its parameter markers on every call."""

    NAMED = ("rep_id", "team_id", "now", "expires", "exclude", "skip", "limit", "double_limit", "zones",
             "rested_before", "audited_at")

    def __init__(self, statement):
        from sqlalchemy.dialects.postgresql import psycopg

        dialect = psycopg.dialect()
        named = set(self.NAMED)
        # The fixed lists (IN of enum values) and every other constant (enum values, numbers) are written into
        # the text, so that PostgreSQL matches the partial indexes (``WHERE status = 'open'``) even in a generic
        # plan; every named value stays a parameter.
        compiled = statement.params({name: None for name in named}).compile(
            dialect=dialect, compile_kwargs={"render_postcompile": True})
        sql = compiled.string
        for name, value in compiled.construct_expanded_state().parameters.items():
            if name not in named:
                sql = sql.replace(f"%({name})s", _sql_literal(value))
        self.order: list[str] = []

        def number(match: re.Match) -> str:
            if match.group(1) not in self.order:
                self.order.append(match.group(1))
            return f"${self.order.index(match.group(1)) + 1}"

        self.sql = re.sub(r"%\((\w+)\)s", number, sql).replace("%%", "%")
        self.processors = {}
        for bind, name in compiled.bind_names.items():
            processor = bind.type.bind_processor(dialect)
            if processor is not None and name != "zones":
                self.processors[name] = processor

    def arguments(self, params: dict) -> list:
        """The values for ``$1``, ``$2`` … as the driver takes them (each type's bind processing done)."""
        values = dict(params, zones=_array_literal(params["zones"]))
        for name, processor in self.processors.items():
            if name in values:
                values[name] = processor(values[name])
        return [values[name] for name in self.order]

    def one(self, params: dict) -> dict:
        """The statement's one row (a dict), run on a generic plan: planning this statement afresh for each
        claim cost more than running it (≈ 2–6 ms of PostgreSQL's time against ≈ 1 ms at 1M leads), and with
        its constants in the text the generic plan reads the same indexes as a custom one. The statement is
        prepared once per connection; the setting holds for this statement only."""
        from psycopg import RawCursor
        from psycopg.rows import dict_row

        if db.session.autoflush:  # what session.execute would do first: pending changes reach the database
            db.session.flush()
        arguments = self.arguments(params)
        driver = db.session.connection().connection.driver_connection  # in the session's transaction
        # One round trip for the lot (psycopg's pipeline): the transaction's BEGIN if it is the first statement,
        # the plan setting, the claim, and the setting back for whatever the transaction runs next.
        with RawCursor(driver) as setting, RawCursor(driver, row_factory=dict_row) as cursor:
            with driver.pipeline():
                setting.execute("SET LOCAL plan_cache_mode = force_generic_plan")
                cursor.execute(self.sql, arguments, prepare=True)
                setting.execute("SET LOCAL plan_cache_mode = DEFAULT")
            return cursor.fetchone()


@functools.lru_cache(maxsize=4)
def _array_literal(zones: tuple[str, ...]) -> str:
    """The open zones (≈ 300 names, the same all minute) as one array literal, written once a minute."""
    return "{" + ",".join('"' + zone.replace("\\", "\\\\").replace('"', '\\"') + '"' for zone in zones) + "}"


def _sql_literal(value) -> str:
    """A constant of the claim statement (an enum value or a number) as SQL text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''").replace("%", "%%") + "'"
    raise TypeError(f"no SQL literal for {value!r}")


def _claim_params(rep: User, now: datetime, skip: tuple[int, ...]) -> dict:
    """The claim statement's named values for ``rep`` at ``now`` (its first run: the top CLAIM_FIRST of each reason)."""
    params = _work_params(rep, now, CLAIM_FIRST, (), zones=tuple)
    params.update(skip=list(skip), expires=now + lease_length(), audited_at=utcnow())  # audit rows: the clock
    if rep.team_id is None:
        params.pop("team_id")
    return params


def _claim_next_in_one_statement(rep: User, now: datetime, skip: tuple[int, ...], with_related: bool) -> Claim | None:
    statement = _claim_statement(rep.team_id is not None, with_related)
    params = _claim_params(rep, now, skip)
    row = statement.one(params)
    released = row["released"] or []
    if row["lead_id"] is None:
        params.update(limit=MAX_LIMIT, double_limit=2 * MAX_LIMIT, skip=list(skip) + released)
        row = statement.one(params)
    for lead_id in released:  # the session's copies of the leads let go
        held = db.session.identity_map.get(db.session.identity_key(Lead, lead_id))
        if held is not None:
            db.session.expire(held, ["claimed_by_id", "claim_expires_at", "updated_at"])
    if row["lead_id"] is None:
        return None
    since = row["sort_at"]
    item = WorkItem(lead_id=row["lead_id"], reason=RANKS[row["rank"]], since=since and since.astimezone(UTC),
                    tasks=row["tasks"] or 0, channel=Channel(row["channel"]) if row["channel"] else None,
                    step=row["step"])
    lead = _lead_from_row(row, with_related)
    return Claim(lead, item, lead.claim_expires_at, item.reason == Reason.POOL)


@functools.lru_cache(maxsize=8)
def _row_columns(model, dialect) -> tuple:
    """(attribute, result column, result processor) of each of ``model``'s columns in the claim's row."""
    prefix = model.__tablename__
    return tuple((attr.key, f"{prefix}__{attr.columns[0].name}", attr.columns[0].type.result_processor(dialect, None))
                 for attr in model.__mapper__.column_attrs)


def _loaded_from_row(model, row):
    """An instance of ``model`` from the claim's row, in the session as if loaded (no second query); None when
    the row has none (an outer join that found nothing)."""
    from sqlalchemy.orm import make_transient_to_detached
    from sqlalchemy.orm.attributes import set_committed_value

    values = {key: process(row[name]) if process else row[name]
              for key, name, process in _row_columns(model, db.session.get_bind().dialect)}
    if values["id"] is None:
        return None
    held = db.session.identity_map.get(db.session.identity_key(model, values["id"]))
    if held is not None:  # the session's copy takes the values the claim wrote
        for key, value in values.items():
            set_committed_value(held, key, value)
        return held
    instance = model.__mapper__.class_manager.new_instance()  # as the ORM loads a row: no constructor, no events
    instance.__dict__.update(values)
    make_transient_to_detached(instance)
    db.session.add(instance)
    return instance


def _lead_from_row(row, with_related: bool) -> Lead:
    """The claimed lead (with its contact, source and campaign), as the claim statement returned them."""
    from sqlalchemy.orm.attributes import set_committed_value

    lead = _loaded_from_row(Lead, row)
    for model, _fk, relation in _CLAIM_RELATED if with_related else ():
        set_committed_value(lead, relation, _loaded_from_row(model, row))
    return lead


def claim_lead(rep: User, lead: Lead, *, now: datetime | None = None) -> datetime:
    """Claim one chosen lead (from the list or its page); refused if not the rep's to work or held by another."""
    now = now or utcnow()
    access.check_may_work(rep, lead)
    from_pool = lead.owner_id is None
    _release_others(rep, keep=lead.id)
    taken = _take(rep, [lead.id], now)
    db.session.refresh(lead)
    if taken is None:
        raise _lost(lead, now)
    if from_pool:
        record(rep, "lead.claimed_from_pool", lead, {"owner_id": rep.id})
    return lead.claim_expires_at


def _lost(lead: Lead, now: datetime) -> LeaseLost:
    if lead.claimed_by_id is not None and lead.claim_expires_at and lead.claim_expires_at > now:
        holder = db.session.get(User, lead.claimed_by_id)
        return LeaseLost(str(_l("%(name)s is working this lead now.", name=holder.name if holder else "?")),
                         code="lease_taken")
    return LeaseLost(str(_l("Your hold on this lead has expired.")), code="lease_expired")


def renew_lease(user: User, lead: Lead, *, now: datetime | None = None) -> datetime:
    """Extend the user's unexpired lease; an expired or taken-over lease is refused (LeaseLost)."""
    now = now or utcnow()
    expires = now + lease_length()
    row = db.session.execute(
        update(Lead).where(Lead.id == lead.id, Lead.claimed_by_id == user.id, Lead.claim_expires_at > now)
        .values(claim_expires_at=expires).returning(Lead.id).execution_options(synchronize_session="fetch")).first()
    db.session.refresh(lead)
    if row is None:
        raise _lost(lead, now)
    return expires


def release_lease(user: User, lead: Lead) -> bool:
    """Let go of the user's lease on the lead; False when they did not hold it."""
    row = db.session.execute(
        update(Lead).where(Lead.id == lead.id, Lead.claimed_by_id == user.id)
        .values(claimed_by_id=None, claim_expires_at=None).returning(Lead.id)
        .execution_options(synchronize_session="fetch")).first()
    db.session.refresh(lead)
    return row is not None


def holds_lease(user: User, lead: Lead, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return lead.claimed_by_id == user.id and lead.claim_expires_at is not None and lead.claim_expires_at > now


# --- logging an outcome ---------------------------------------------------------------------------

def check_lease_for_logging(user: User, lead: Lead, *, had_lease: bool, now: datetime) -> None:
    """Refuse a log when someone else holds the lead, or when the user's own lease ran out."""
    row = db.session.execute(select(Lead.claimed_by_id, Lead.claim_expires_at).where(Lead.id == lead.id)
                             .with_for_update()).one()
    held_by, expires = row
    active = held_by is not None and expires is not None and expires > now
    if active and held_by == user.id:
        return
    if active or had_lease:
        db.session.refresh(lead)
        raise _lost(lead, now)


def log_outcome(user: User, lead: Lead, *, outcome: str, channel: str = Channel.CALL, talk_seconds: int | None = None,
                notes: str = "", follow_up_at: datetime | None = None, had_lease: bool = False,
                now: datetime | None = None):
    """Log what happened on the lead the rep is working, settle its due follow-ups, schedule the next one.

    The touch goes through log_touch (its rules); the rep's due follow-ups on the lead are done;
    ``follow_up_at`` (in the future) becomes a new follow-up task; the lease is released.
    """
    now = now or utcnow()
    check_lease_for_logging(user, lead, had_lease=had_lease, now=now)
    if follow_up_at is not None:
        if follow_up_at.tzinfo is None:
            raise ValidationFailed(str(_l("The next step needs a time zone.")), fields={"follow_up_at": str(_l("No zone."))})
        if follow_up_at <= now:
            raise ValidationFailed(str(_l("The next step must be in the future.")),
                                   fields={"follow_up_at": str(_l("Pick a time after now."))})
    logged = log_touch(contact=lead.contact, lead=lead, user=user, channel=channel, direction=Direction.OUTBOUND,
                       outcome=outcome or None, occurred_at=now, talk_seconds=talk_seconds, body=(notes or "").strip())
    due = db.session.scalars(select(Task).where(Task.lead_id == lead.id, Task.assignee_id == user.id,
                                                Task.status == TaskStatus.OPEN, Task.due_at <= now)).all()
    for task in due:
        task.status, task.completed_at = TaskStatus.DONE, now
    if follow_up_at is not None:
        task = Task(kind=TaskKind.CALL if Channel(channel) == Channel.CALL else TaskKind.FOLLOW_UP,
                    title=str(_l("Follow up: %(title)s", title=lead.title))[:200], notes=(notes or "").strip(),
                    lead_id=lead.id, contact_id=lead.contact_id, assignee_id=user.id, created_by_id=user.id,
                    due_at=follow_up_at, origin="queue")
        db.session.add(task)
        db.session.flush()
        record(user, "task.created", task, {"lead_id": lead.id, "due_at": follow_up_at})
        lead.next_action_at = follow_up_at
    elif lead.next_action_at is not None and lead.next_action_at <= now:
        lead.next_action_at = None
    lead.claimed_by_id, lead.claim_expires_at = None, None
    db.session.flush()
    return logged.touch


# --- reassignment ---------------------------------------------------------------------------------

MAX_REASSIGN = 500


def reassign_leads(actor: User, lead_ids: list[int], owner: User) -> list[Lead]:
    """Give leads to another rep (managers: their team's reps; admins: any), audited per lead.

    Every lead must be one the actor may change, or nothing moves. The lead's open follow-ups
    go with it, and a hold by anyone but the new owner ends.
    """
    access.check_may_reassign(actor, owner)
    ids = sorted(set(lead_ids))
    if not ids:
        raise ValidationFailed(str(_l("Choose at least one lead.")), fields={"lead_ids": str(_l("Empty."))})
    if len(ids) > MAX_REASSIGN:
        raise ValidationFailed(str(_l("At most %(n)d leads at once.", n=MAX_REASSIGN)), fields={"lead_ids": str(_l("Too many."))})
    leads = db.session.scalars(select(Lead).where(Lead.id.in_(ids), access.lead_editability(actor))
                               .order_by(Lead.id)).all()
    missing = sorted(set(ids) - {lead.id for lead in leads})
    if missing:
        raise NotFound(str(_l("No such leads: %(ids)s.", ids=", ".join(map(str, missing[:20])))),
                       fields={"lead_ids": ", ".join(map(str, missing[:20]))})
    for lead in leads:
        before = lead.owner_id
        if before == owner.id:
            continue
        lead.owner_id, lead.team_id = owner.id, owner.team_id or lead.team_id
        if lead.claimed_by_id not in (None, owner.id):
            lead.claimed_by_id, lead.claim_expires_at = None, None
        if before is not None:
            db.session.execute(update(Task).where(Task.lead_id == lead.id, Task.assignee_id == before,
                                                  Task.status == TaskStatus.OPEN)
                               .values(assignee_id=owner.id).execution_options(synchronize_session="fetch"))
        record(actor, "lead.reassigned", lead, {"from": before, "to": owner.id})
    db.session.flush()
    return list(leads)
