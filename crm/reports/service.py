"""The report figures, computed in SQL (see docs/metrics.md for every definition).

Each report runs a handful of aggregate queries that cover the period and its previous
one at once (a ``cur`` column tells them apart: 1 current, 0 previous), so a comparison
costs one scan, not two. Python only divides the sums and names the results.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlalchemy import and_, case, exists, func, literal, or_, select

from crm.auth.models import Role, User
from crm.db import is_postgresql, utcnow
from crm.extensions import db
from crm.handoffs.models import Handoff, HandoffStatus
from crm.leads.models import Campaign, Lead, LeadStatus, LostReason, Source, Stage, StageChange
from crm.reports import rollups
from crm.reports.periods import Criteria, Period
from crm.reports.sql import for_reports, in_period, quantiles, quantiles_per_key_and_total, seconds_between
from crm.tasks.models import Task, TaskStatus
from crm.touches.models import Channel, Direction, Outcome, Survey, Touch

PERIODS = (1, 0)  # current, previous
STAGE_RANK = {Stage.DISCOVER: 0, Stage.NURTURE: 1, Stage.PROPOSE: 2, Stage.CLOSE: 3}
CENT = Decimal("0.01")


def ratio(part, whole) -> float | None:
    """part / whole, or None (shown as a dash) when there is nothing to divide by."""
    if not whole:
        return None
    return float(part or 0) / float(whole)


def money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


def money_ratio(part, whole) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(str(part or 0)) / Decimal(str(whole))).quantize(CENT, rounding=ROUND_HALF_UP)


def _num(value) -> float | None:
    return None if value is None else float(value)


def _cur(column, criteria: Criteria):
    """1 when ``column`` falls in the current period, 0 in the previous one."""
    return case((column >= criteria.current_start, 1), else_=0)


def _sum_if(condition, value=1):
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def _team_users(team_id: int):
    return select(User.id).where(User.team_id == team_id)


# ---------------------------------------------------------------- conditions per table

def lead_conditions(criteria: Criteria, column=None) -> list:
    """Leads in the cohort (created in the period or its previous one) and the filters."""
    column = column if column is not None else Lead.created_at
    conds = [in_period(column, criteria.span_start, criteria.end)]
    if criteria.team_id is not None:
        conds.append(Lead.team_id == criteria.team_id)
    if criteria.rep_id is not None:
        conds.append(Lead.owner_id == criteria.rep_id)
    if criteria.source_id is not None:
        conds.append(Lead.source_id == criteria.source_id)
    if criteria.campaign_id is not None:
        conds.append(Lead.campaign_id == criteria.campaign_id)
    if criteria.channel is not None:
        conds.append(exists().where(Touch.lead_id == Lead.id, Touch.channel == criteria.channel))
    return conds


def touch_team(team_id: int, *, by_rep: bool = True):
    """A team's touches: its reps'; and, unless only reps' touches count, rep-less ones (an abandoned
    inbound call) of the team's leads."""
    mine = Touch.user_id.in_(_team_users(team_id))
    if by_rep:
        return mine
    return or_(mine, and_(Touch.user_id.is_(None), Touch.lead_id.in_(select(Lead.id).where(Lead.team_id == team_id))))


def touch_conditions(criteria: Criteria, *, by_rep: bool = True) -> list:
    conds = [in_period(Touch.occurred_at, criteria.span_start, criteria.end)]
    if criteria.team_id is not None:
        conds.append(touch_team(criteria.team_id, by_rep=by_rep))
    if criteria.rep_id is not None:
        conds.append(Touch.user_id == criteria.rep_id)
    if criteria.source_id is not None:
        conds.append(Touch.lead_id.in_(select(Lead.id).where(Lead.source_id == criteria.source_id)))
    if criteria.campaign_id is not None:
        conds.append(Touch.campaign_id == criteria.campaign_id)
    if criteria.channel is not None:
        conds.append(Touch.channel == criteria.channel)
    if by_rep:
        conds.append(Touch.user_id.is_not(None))
    return conds


def _lead_filter(lead_id_column, criteria: Criteria) -> list:
    conds = []
    if criteria.source_id is not None:
        conds.append(lead_id_column.in_(select(Lead.id).where(Lead.source_id == criteria.source_id)))
    if criteria.campaign_id is not None:
        conds.append(lead_id_column.in_(select(Lead.id).where(Lead.campaign_id == criteria.campaign_id)))
    return conds


def _person_filter(user_column, criteria: Criteria) -> list:
    conds = []
    if criteria.team_id is not None:
        conds.append(user_column.in_(_team_users(criteria.team_id)))
    if criteria.rep_id is not None:
        conds.append(user_column == criteria.rep_id)
    return conds


# ---------------------------------------------------------------- funnel

def funnel_statements(criteria: Criteria, *, from_history: bool = False) -> dict:
    """The funnel's SQL: counts, lost reasons and time in stage, for both periods.

    From the facts the stage-change triggers keep (each lead's furthest stage; each stay's end and
    cohort, migration 0013), or with ``from_history`` from the stage changes themselves (the
    definition those facts must agree with; the tests compare the two)."""
    if from_history:
        return _funnel_from_history(criteria)
    cohort = lead_conditions(criteria)
    cur = _cur(Lead.created_at, criteria).label("cur")
    won = Lead.status == LeadStatus.WON
    reached = {n: or_(Lead.furthest_stage.in_([s for s, r in STAGE_RANK.items() if r >= n]), won) for n in (1, 2, 3)}
    counts = select(
        cur, func.count().label("created"),
        _sum_if(reached[1]).label("reached_nurture"), _sum_if(reached[2]).label("reached_propose"),
        _sum_if(reached[3]).label("reached_close"),
        _sum_if(won).label("won"), _sum_if(Lead.status == LeadStatus.LOST).label("lost"),
        _sum_if(won, Lead.value).label("won_value"),
    ).where(*cohort).group_by(cur)
    stays = _stays_from_facts(criteria)
    stage_days = quantiles(stays, stays.c.key, stays.c.days, postgresql=is_postgresql(db.session))
    return {"counts": counts, "reasons": _lost_reasons(criteria), "stage_days": stage_days}


def _stays_from_facts(criteria: Criteria):
    """The ended stays of the cohort's leads, read from the stage changes that opened them."""
    rank = case(*[(StageChange.to_stage == stage, r) for stage, r in STAGE_RANK.items()], else_=0)
    cur = _cur(StageChange.lead_created_at, criteria)
    conds = [in_period(StageChange.lead_created_at, criteria.span_start, criteria.end),
             StageChange.to_status == LeadStatus.OPEN, StageChange.ended_at.is_not(None)]
    lead_filters = lead_conditions(criteria)[1:]
    if lead_filters:  # a team, rep, source, campaign or channel: only the cohort's leads that match
        conds.append(StageChange.lead_id.in_(select(Lead.id).where(*lead_conditions(criteria))))
    return select((cur * 10 + rank).label("key"),
                  (seconds_between(StageChange.changed_at, StageChange.ended_at) / 86400.0).label("days")
                  ).where(*conds).subquery("open_stays")


def _lost_reasons(criteria: Criteria):
    cur = _cur(Lead.created_at, criteria).label("cur")
    return (select(cur, LostReason.label, func.count().label("n")).select_from(Lead)
            .join(LostReason, LostReason.id == Lead.lost_reason_id)
            .where(*lead_conditions(criteria), Lead.status == LeadStatus.LOST)
            .group_by(cur, LostReason.label))


def _funnel_from_history(criteria: Criteria) -> dict:
    cohort = lead_conditions(criteria)
    cur = _cur(Lead.created_at, criteria).label("cur")
    rank = case(*[(StageChange.to_stage == stage, r) for stage, r in STAGE_RANK.items()], else_=0)
    per_lead = (select(Lead.id.label("lead_id"), cur, Lead.status.label("status"), Lead.value.label("value"),
                       func.coalesce(func.max(rank), 0).label("furthest"))
                .select_from(Lead).outerjoin(StageChange, StageChange.lead_id == Lead.id)
                .where(*cohort).group_by(Lead.id, Lead.created_at, Lead.status, Lead.value).subquery("per_lead"))
    won = per_lead.c.status == LeadStatus.WON
    counts = select(
        per_lead.c.cur, func.count().label("created"),
        _sum_if(or_(per_lead.c.furthest >= 1, won)).label("reached_nurture"),
        _sum_if(or_(per_lead.c.furthest >= 2, won)).label("reached_propose"),
        _sum_if(or_(per_lead.c.furthest >= 3, won)).label("reached_close"),
        _sum_if(won).label("won"), _sum_if(per_lead.c.status == LeadStatus.LOST).label("lost"),
        _sum_if(won, per_lead.c.value).label("won_value"),
    ).group_by(per_lead.c.cur)
    next_change = func.lead(StageChange.changed_at).over(partition_by=StageChange.lead_id,
                                                          order_by=(StageChange.changed_at, StageChange.id))
    stays = (select((cur * 10 + rank).label("key"), StageChange.to_status.label("to_status"),
                    seconds_between(StageChange.changed_at, next_change).label("secs"))
             .select_from(StageChange).join(Lead, Lead.id == StageChange.lead_id).where(*cohort).subquery("stays"))
    open_stays = select(stays.c.key, (stays.c.secs / 86400.0).label("days")).where(
        stays.c.to_status == LeadStatus.OPEN).subquery("open_stays")
    stage_days = quantiles(open_stays, open_stays.c.key, open_stays.c.days, postgresql=is_postgresql(db.session))
    return {"counts": counts, "reasons": _lost_reasons(criteria), "stage_days": stage_days}


def funnel(criteria: Criteria, *, from_history: bool = False) -> dict:
    """The conversion funnel of the leads created in the period, and of the previous period."""
    for_reports(db.session)
    stmts = funnel_statements(criteria, from_history=from_history)
    result = {p: _empty_funnel() for p in PERIODS}
    for row in db.session.execute(stmts["counts"]).mappings():
        result[row["cur"]].update({k: int(row[k] or 0) for k in ("created", "reached_nurture", "reached_propose",
                                                                  "reached_close", "won", "lost")})
        result[row["cur"]]["won_value"] = money(row["won_value"])
    for row in db.session.execute(stmts["reasons"]).mappings():
        result[row["cur"]]["lost_reasons"].append({"reason": row["label"], "leads": int(row["n"])})
    stage_names = {r: s.value for s, r in STAGE_RANK.items()}
    for row in db.session.execute(stmts["stage_days"]).mappings():
        period, rank = divmod(int(row["key"]), 10)
        result[period]["median_days"][stage_names[rank]] = _num(row["median"])
    for figures in result.values():
        _funnel_ratios(figures)
    return {"current": result[1], "previous": result[0]}


def _empty_funnel() -> dict:
    return {"created": 0, "reached_nurture": 0, "reached_propose": 0, "reached_close": 0, "won": 0, "lost": 0,
            "won_value": money(0), "lost_reasons": [], "median_days": {s.value: None for s in STAGE_RANK}}


def _funnel_ratios(f: dict) -> None:
    f["open"] = f["created"] - f["won"] - f["lost"]
    f["conversion"] = {
        "discover_nurture": ratio(f["reached_nurture"], f["created"]),
        "nurture_propose": ratio(f["reached_propose"], f["reached_nurture"]),
        "propose_close": ratio(f["reached_close"], f["reached_propose"]),
        "close_won": ratio(f["won"], f["reached_close"]),
    }
    f["win_rate"] = ratio(f["won"], f["won"] + f["lost"])
    f["lost_reasons"].sort(key=lambda r: (-r["leads"], r["reason"]))


# ---------------------------------------------------------------- rep activity

ACTIVITY_COUNTS = ("outbound_calls", "connects", "completed_calls", "talk_seconds", "handle_seconds", "leads_called",
                   "leads_worked", "emails", "chats", "social", "untouched_leads", "tasks_due", "tasks_done_on_time",
                   "handoffs_sent", "handoffs_accepted", "handoffs_rejected", "handoffs_won")


def rollups_apply(criteria: Criteria) -> bool:
    """The rollups are per rep: a team or rep scope narrows them, a source, campaign or channel cannot."""
    return criteria.source_id is None and criteria.campaign_id is None and criteria.channel is None


def touch_statements(criteria: Criteria, *, from_touches: bool = False) -> dict:
    """The touch figures per rep and period: from the rollups (crm/reports/rollups.py) when they apply,
    else (or with ``from_touches``, the definition the rollups must agree with) from the touches."""
    if rollups_apply(criteria) and not from_touches:
        def scope(column):
            return _person_filter(column, criteria)
        span = (criteria.span_start, criteria.current_start, criteria.end)
        return {"touches": rollups.activity_sums(rollups.split_span(*span), criteria.current_start, scope),
                "leads": rollups.distinct_leads(*span, scope)}
    figures = rollups.touch_figures()
    tcur = _cur(Touch.occurred_at, criteria).label("cur")
    # Per rep, period and lead first (a hash aggregate), then per rep and period: distinct leads
    # are then a plain count, with no sort of every touch.
    per_lead = (select(Touch.user_id.label("rep_id"), tcur, Touch.lead_id.label("lead_id"),
                       *(func.sum(figures[name]).label(name) for name in rollups.ADDITIVE))
                .where(*touch_conditions(criteria)).group_by(Touch.user_id, tcur, Touch.lead_id).subquery("per_lead"))
    t = per_lead.c
    touches = (select(
        t.rep_id, t.cur, *(func.sum(getattr(t, name)).label(name) for name in rollups.ADDITIVE),
        _sum_if(and_(t.lead_id.is_not(None), t.outbound_calls > 0)).label("leads_called"),
        func.count(t.lead_id).label("leads_worked"),
    ).group_by(t.rep_id, t.cur))
    return {"touches": touches}


def activity_statements(criteria: Criteria, now: datetime | None = None, *, from_touches: bool = False) -> dict:
    now = now or utcnow()
    lead_conds = [*lead_conditions(criteria), Lead.owner_id.is_not(None)]
    lcur = _cur(Lead.created_at, criteria)
    untouched = (select(Lead.owner_id.label("rep_id"), lcur.label("cur"),
                        _sum_if(Lead.first_touch_at.is_(None)).label("untouched_leads"))
                 .where(*lead_conds).group_by(Lead.owner_id, lcur))
    # Every owned lead of the cohort; the untouched ones have no wait (NULL), which the medians skip.
    waits = select((Lead.owner_id * 2 + lcur).label("key"), lcur.label("cur"),
                   seconds_between(Lead.created_at, Lead.first_touch_at).label("secs")).where(
        *lead_conds).subquery("waits")

    due_until = min(criteria.end, now)
    kcur = _cur(Task.due_at, criteria)
    tasks = (select(Task.assignee_id.label("rep_id"), kcur.label("cur"), func.count().label("tasks_due"),
                    _sum_if(and_(Task.status == TaskStatus.DONE, Task.completed_at <= Task.due_at))
                    .label("tasks_done_on_time"))
             .where(Task.due_at >= criteria.span_start, Task.due_at < due_until, Task.status != TaskStatus.CANCELLED,
                    Task.assignee_id.is_not(None), *_person_filter(Task.assignee_id, criteria),
                    *_lead_filter(Task.lead_id, criteria))
             .group_by(Task.assignee_id, kcur))

    hcur = _cur(Handoff.created_at, criteria)
    accepted = Handoff.status == HandoffStatus.ACCEPTED
    # The won leads from their own small index (ix_leads_won), not a join of every lead.
    won_leads = select(Lead.id).where(Lead.status == LeadStatus.WON)
    handoff_conds = [in_period(Handoff.created_at, criteria.span_start, criteria.end),
                     Handoff.status != HandoffStatus.CANCELLED, Handoff.from_user_id.is_not(None),
                     *_person_filter(Handoff.from_user_id, criteria), *_lead_filter(Handoff.lead_id, criteria)]
    handoffs = (select(Handoff.from_user_id.label("rep_id"), hcur.label("cur"), func.count().label("handoffs_sent"),
                       _sum_if(accepted).label("handoffs_accepted"),
                       _sum_if(Handoff.status == HandoffStatus.REJECTED).label("handoffs_rejected"),
                       _sum_if(and_(accepted, Handoff.lead_id.in_(won_leads))).label("handoffs_won"))
                .where(*handoff_conds).group_by(Handoff.from_user_id, hcur))
    accept_waits = select((Handoff.from_user_id * 2 + hcur).label("key"), hcur.label("cur"),
                          (seconds_between(func.coalesce(Handoff.submitted_at, Handoff.created_at), Handoff.decided_at)
                           / 3600.0).label("hours")).where(
        *handoff_conds, accepted, Handoff.decided_at.is_not(None)).subquery("accept_waits")
    pg = is_postgresql(db.session)
    return {
        **touch_statements(criteria, from_touches=from_touches), "tasks": tasks, "handoffs": handoffs,
        # PostgreSQL counts the untouched leads in the same pass as the speed-to-lead medians ("missing").
        **({} if pg else {"untouched": untouched}),
        "speed": quantiles_per_key_and_total(waits, waits.c.key, waits.c.cur, waits.c.secs, postgresql=pg),
        "accept": quantiles_per_key_and_total(accept_waits, accept_waits.c.key, accept_waits.c.cur,
                                              accept_waits.c.hours, postgresql=pg),
    }


def activity(criteria: Criteria, now: datetime | None = None, *, from_touches: bool = False) -> dict:
    """Per rep and in total, this period and the previous one (docs/metrics.md, Rep activity)."""
    for_reports(db.session)
    stmts = activity_statements(criteria, now, from_touches=from_touches)
    rows: dict[int, dict[int, dict]] = {}

    def slot(rep_id: int, period: int) -> dict:
        return rows.setdefault(rep_id, {p: dict.fromkeys(ACTIVITY_COUNTS, 0) for p in PERIODS})[period]

    for name in ("touches", "untouched", "tasks", "handoffs"):  # (untouched: SQLite; see below)
        for row in db.session.execute(stmts[name]).mappings() if name in stmts else ():
            target = slot(row["rep_id"], row["cur"])
            for key, value in row.items():
                if key not in ("rep_id", "cur"):
                    target[key] += int(value or 0)
    # Leads worked and called from the rollups, both periods in one row. A rep is listed for touches in
    # the span, which leads worked imply; so these only add to reps already listed.
    for row in db.session.execute(stmts["leads"]).mappings() if "leads" in stmts else ():
        for period in PERIODS:
            if row["rep_id"] in rows:
                target = rows[row["rep_id"]][period]
                target["leads_worked"] += int(row[f"leads_worked_{period}"] or 0)
                target["leads_called"] += int(row[f"leads_called_{period}"] or 0)
    # Medians per rep (key = rep * 2 + period) and over everyone (total_key = period), one statement each.
    speed, speed_total, accept, accept_total = {}, {}, {}, {}
    for name, per_rep, total in (("speed", speed, speed_total), ("accept", accept, accept_total)):
        for r in db.session.execute(stmts[name]).mappings():
            if r["key"] is not None:
                per_rep[int(r["key"])] = r
            else:
                total[int(r["total_key"])] = r
    if "untouched" not in stmts:
        for key, r in speed.items():
            slot(key // 2, key % 2)["untouched_leads"] += int(r["missing"])
    for key in set(speed) | set(accept):
        slot(key // 2, key % 2)
    for rep_id, periods in rows.items():
        for period, figures in periods.items():
            s, a = speed.get(rep_id * 2 + period), accept.get(rep_id * 2 + period)
            _activity_ratios(figures, s, a)
    totals = {p: dict.fromkeys(ACTIVITY_COUNTS, 0) for p in PERIODS}
    for periods in rows.values():
        for period, figures in periods.items():
            for key in ACTIVITY_COUNTS:
                totals[period][key] += figures[key]
    for period, figures in totals.items():
        _activity_ratios(figures, speed_total.get(period), accept_total.get(period))
    people = _people(criteria, set(rows))
    reps = [{"rep_id": user.id, "name": user.name, "current": rows.get(user.id, _zero_activity())[1],
             "previous": rows.get(user.id, _zero_activity())[0]} for user in people]
    return {"reps": reps, "total": {"current": totals[1], "previous": totals[0]}}


def _zero_activity() -> dict:
    periods = {p: dict.fromkeys(ACTIVITY_COUNTS, 0) for p in PERIODS}
    for figures in periods.values():
        _activity_ratios(figures, None, None)
    return periods


def _people(criteria: Criteria, active_ids: set[int]) -> list[User]:
    """The reps a report lists: everyone with activity, and the scope's active reps with none."""
    if criteria.rep_id is not None:
        cond = User.id == criteria.rep_id
    elif criteria.team_id is not None:
        cond = or_(User.id.in_(active_ids), and_(User.team_id == criteria.team_id, User.active,
                                                 User.role == Role.REP))
    else:
        cond = User.id.in_(active_ids)
    return list(db.session.scalars(select(User).where(cond).order_by(User.name, User.id)))


def _activity_ratios(f: dict, speed, accept) -> None:
    f["connect_rate"] = ratio(f["connects"], f["outbound_calls"])
    f["avg_talk_seconds"] = ratio(f["talk_seconds"], f["completed_calls"])
    f["aht_seconds"] = ratio(f["handle_seconds"], f["completed_calls"])
    f["attempts_per_lead"] = ratio(f["outbound_calls"], f["leads_called"])
    f["follow_up_compliance"] = ratio(f["tasks_done_on_time"], f["tasks_due"])
    f["acceptance_rate"] = ratio(f["handoffs_accepted"], f["handoffs_accepted"] + f["handoffs_rejected"])
    f["handoff_won_rate"] = ratio(f["handoffs_won"], f["handoffs_accepted"])
    f["speed_to_lead_median_seconds"] = _num(speed["median"]) if speed else None
    f["speed_to_lead_p90_seconds"] = _num(speed["p90"]) if speed else None
    f["median_hours_to_accept"] = _num(accept["median"]) if accept else None


# ---------------------------------------------------------------- inbound contact centre

def service_level_seconds() -> int:
    return int(current_app.config.get("SERVICE_LEVEL_SECONDS", 20))


def inbound_statements(criteria: Criteria, answer_within: int) -> dict:
    offered = [*touch_conditions(criteria, by_rep=False), Touch.channel == Channel.CALL,
               Touch.direction == Direction.INBOUND, Touch.outcome.is_not(None), Touch.outcome != Outcome.QUEUED]
    cur = _cur(Touch.occurred_at, criteria).label("cur")
    # Answered by a person: the phone system's answer time, or a rep's own log of a connected call.
    answered = or_(Touch.answered_at.is_not(None), Touch.outcome == Outcome.CONNECTED)
    calls = select(cur, func.count().label("offered"), _sum_if(answered).label("answered"),
                   _sum_if(Touch.outcome == Outcome.ABANDONED).label("abandoned"),
                   _sum_if(answered, Touch.queue_seconds).label("answered_queue_seconds"),
                   _sum_if(and_(answered, Touch.queue_seconds <= answer_within)).label("answered_in_time"),
                   func.coalesce(func.sum(Touch.queue_seconds), 0).label("queue_seconds"),
                   ).where(*offered).group_by(cur)
    scur = _cur(Survey.answered_at, criteria).label("cur")
    survey_conds = [in_period(Survey.answered_at, criteria.span_start, criteria.end), Survey.score.is_not(None),
                    *_person_filter(Survey.user_id, criteria)]
    if criteria.channel is not None or criteria.campaign_id is not None or criteria.source_id is not None:
        touch_cond = [*(c for c in [Touch.channel == criteria.channel] if criteria.channel is not None),
                      *(c for c in [Touch.campaign_id == criteria.campaign_id] if criteria.campaign_id is not None),
                      *_lead_filter(Touch.lead_id, Criteria(criteria.period, source_id=criteria.source_id))]
        survey_conds.append(Survey.touch_id.in_(select(Touch.id).where(*touch_cond)))
    surveys = select(scur, func.count().label("surveys_answered"), _sum_if(Survey.score >= 4).label("satisfied")
                     ).where(*survey_conds).group_by(scur)
    return {"calls": calls, "surveys": surveys}


def inbound(criteria: Criteria, answer_within: int | None = None) -> dict:
    """Contact-centre figures of the inbound calls, and CSAT (docs/metrics.md, Inbound)."""
    within = service_level_seconds() if answer_within is None else answer_within
    for_reports(db.session)
    stmts = inbound_statements(criteria, within)
    keys = ("offered", "answered", "abandoned", "answered_queue_seconds", "answered_in_time", "queue_seconds",
            "surveys_answered", "satisfied")
    result = {p: dict.fromkeys(keys, 0) for p in PERIODS}
    for name in ("calls", "surveys"):
        for row in db.session.execute(stmts[name]).mappings():
            result[row["cur"]].update({k: int(v or 0) for k, v in row.items() if k != "cur"})
    for f in result.values():
        f["answer_within_seconds"] = within
        f["abandon_rate"] = ratio(f["abandoned"], f["offered"])
        f["asa_seconds"] = ratio(f["answered_queue_seconds"], f["answered"])
        f["service_level"] = ratio(f["answered_in_time"], f["offered"])
        f["avg_queue_seconds"] = ratio(f["queue_seconds"], f["offered"])
        f["csat"] = ratio(f["satisfied"], f["surveys_answered"])
    return {"current": result[1], "previous": result[0]}


# ---------------------------------------------------------------- cost

def _labour():
    return (Touch.talk_seconds + Touch.hold_seconds + Touch.wrap_seconds) * func.coalesce(User.hourly_cost, 0)


def cost(criteria: Criteria) -> dict:
    """Cost per call, and per campaign and source: spend + labour against leads and wins."""
    for_reports(db.session)
    cur = _cur(Touch.occurred_at, criteria).label("cur")
    touch_conds = touch_conditions(criteria, by_rep=False)
    labour = _labour()
    calls = (select(cur, func.count().label("calls"), func.coalesce(func.sum(labour), 0).label("labour"))
             .select_from(Touch).outerjoin(User, User.id == Touch.user_id)
             .where(*touch_conds, Touch.channel == Channel.CALL).group_by(cur))
    totals = {p: {"calls": 0, "call_labour": money(0)} for p in PERIODS}
    for row in db.session.execute(calls).mappings():
        totals[row["cur"]] = {"calls": int(row["calls"]), "call_labour": money(Decimal(str(row["labour"])) / 3600)}
    for f in totals.values():
        f["cost_per_call"] = money_ratio(f["call_labour"], f["calls"])

    lcur = _cur(Lead.created_at, criteria).label("cur")
    won = Lead.status == LeadStatus.WON
    by_campaign = _cost_rows(
        criteria,
        labour=(select(Touch.campaign_id.label("key"), cur, func.sum(labour).label("labour"))
                .select_from(Touch).outerjoin(User, User.id == Touch.user_id)
                .where(*touch_conds, Touch.campaign_id.is_not(None)).group_by(Touch.campaign_id, cur)),
        leads=(select(Lead.campaign_id.label("key"), lcur, func.count().label("leads"), _sum_if(won).label("won"),
                      _sum_if(won, Lead.value).label("won_value"))
               .where(*lead_conditions(criteria), Lead.campaign_id.is_not(None)).group_by(Lead.campaign_id, lcur)),
        names=select(Campaign.id, Campaign.name, Campaign.spend, Campaign.starts_on, Campaign.ends_on),
        model=Campaign)
    by_source = _cost_rows(
        criteria,
        labour=(select(Lead.source_id.label("key"), cur, func.sum(labour).label("labour"))
                .select_from(Touch).join(Lead, Lead.id == Touch.lead_id).outerjoin(User, User.id == Touch.user_id)
                .where(*touch_conds, Lead.source_id.is_not(None)).group_by(Lead.source_id, cur)),
        leads=(select(Lead.source_id.label("key"), lcur, func.count().label("leads"), _sum_if(won).label("won"),
                      _sum_if(won, Lead.value).label("won_value"))
               .where(*lead_conditions(criteria), Lead.source_id.is_not(None)).group_by(Lead.source_id, lcur)),
        names=select(Source.id, Source.name, Source.spend, literal(None).label("starts_on"),
                     literal(None).label("ends_on")),
        model=Source)
    return {"current": totals[1], "previous": totals[0], "campaigns": by_campaign, "sources": by_source}


def _cost_rows(criteria: Criteria, *, labour, leads, names, model) -> list[dict]:
    found: dict[int, dict[int, dict]] = {}

    def slot(key, period):
        return found.setdefault(key, {p: {"labour": Decimal(0), "leads": 0, "won": 0, "won_value": Decimal(0)}
                                      for p in PERIODS})[period]
    for row in db.session.execute(labour).mappings():
        slot(row["key"], row["cur"])["labour"] = Decimal(str(row["labour"] or 0)) / 3600
    for row in db.session.execute(leads).mappings():
        s = slot(row["key"], row["cur"])
        s.update(leads=int(row["leads"]), won=int(row["won"]), won_value=Decimal(str(row["won_value"] or 0)))
    wanted = set(found)
    if criteria.campaign_id is not None and model is Campaign:
        wanted.add(criteria.campaign_id)
    if criteria.source_id is not None and model is Source:
        wanted.add(criteria.source_id)
    rows = []
    for ident, name, spend, starts_on, ends_on in db.session.execute(names.where(model.id.in_(wanted))
                                                                     .order_by(model.name)):
        periods = found.get(ident) or {p: {"labour": Decimal(0), "leads": 0, "won": 0, "won_value": Decimal(0)}
                                       for p in PERIODS}
        out = {"id": ident, "name": name}
        for period, key in ((criteria.period, 1), (criteria.previous, 0)):
            f = periods[key]
            spent = prorated_spend(Decimal(str(spend or 0)), starts_on, ends_on, period)
            total = spent + f["labour"]
            out["current" if key else "previous"] = {
                "spend": money(spent), "labour": money(f["labour"]), "cost": money(total), "leads": f["leads"],
                "won": f["won"], "won_value": money(f["won_value"]), "cost_per_lead": money_ratio(total, f["leads"]),
                "cost_per_won": money_ratio(total, f["won"]),
                "return_on_cost": ratio(f["won_value"], total)}
        rows.append(out)
    return rows


def prorated_spend(spend: Decimal, starts_on: date | None, ends_on: date | None, period: Period) -> Decimal:
    """The share of a campaign's spend that falls in ``period`` (all of it when its dates are unknown)."""
    if starts_on is None or ends_on is None or ends_on < starts_on:
        return spend
    overlap = (min(ends_on, period.last_day) - max(starts_on, period.first_day)).days + 1
    if overlap <= 0:
        return Decimal(0)
    return spend * overlap / ((ends_on - starts_on).days + 1)


def criteria_for(user: User, query, now: datetime | None = None) -> Criteria:
    """The Criteria ``user`` asked for with a ReportQuery, within what they may see (crm/access.py)."""
    from crm.access import report_criteria_scope

    scope = report_criteria_scope(user, team_id=query.team_id, rep_id=query.rep_id)
    period = query.period(now or utcnow(), user.timezone or "UTC")
    return Criteria(period, team_id=scope["team_id"], rep_id=scope["rep_id"], source_id=query.source_id,
                    campaign_id=query.campaign_id, channel=query.channel)
