"""The page after sign-in: the figures each role starts the day with."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select

from crm.access import lead_visibility, task_visibility
from crm.db import utcnow
from crm.extensions import db
from crm.leads.models import STAGE_ORDER, Lead, LeadStatus
from crm.tasks.models import Task, TaskStatus

bp = Blueprint("dashboard", __name__)


def pipeline_counts(user) -> dict[str, int]:
    """Open leads per stage, plus won and lost in the last 30 days, as ``user`` may see them."""
    rows = db.session.execute(
        select(Lead.stage, func.count()).where(lead_visibility(user), Lead.status == LeadStatus.OPEN)
        .group_by(Lead.stage)
    ).all()
    counts = {stage.value: 0 for stage in STAGE_ORDER}
    counts.update({stage.value: n for stage, n in rows})
    since = utcnow() - timedelta(days=30)
    closed = db.session.execute(
        select(Lead.status, func.count()).where(lead_visibility(user), Lead.status != LeadStatus.OPEN,
                                                Lead.closed_at >= since).group_by(Lead.status)
    ).all()
    counts.update({"won_30d": 0, "lost_30d": 0})
    counts.update({f"{status.value}_30d": n for status, n in closed})
    return counts


def task_counts(user) -> dict[str, int]:
    now = utcnow()
    end_of_day = now + timedelta(hours=24)
    base = select(func.count()).select_from(Task).where(task_visibility(user), Task.status == TaskStatus.OPEN)
    return {
        "overdue": db.session.scalar(base.where(Task.due_at < now)) or 0,
        "due_soon": db.session.scalar(base.where(Task.due_at >= now, Task.due_at < end_of_day)) or 0,
    }


@bp.get("/")
@login_required
def index():
    from crm.access import is_manager
    from crm.handoffs.service import dashboard_summary
    from crm.queue.speed_to_lead import flagged_leads
    from crm.reports.targets import current_targets_for  # issue 8: the rep's own attainment

    return render_template("dashboard/index.html", pipeline=pipeline_counts(current_user),
                           tasks=task_counts(current_user), stages=[s.value for s in STAGE_ORDER],
                           handoffs=dashboard_summary(current_user), my_targets=current_targets_for(current_user),
                           speed_to_lead=flagged_leads(current_user) if is_manager(current_user) else [])
