"""/api/v1/reports/…: the same figures as the pages, as JSON (definitions: docs/metrics.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any, get_type_hints

from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field, create_model

from crm import access
from crm.api import current_api_user, endpoint
from crm.errors import AccessDenied, ValidationFailed
from crm.reports import service
from crm.reports.erlang import MAX_TRAFFIC, StaffingPlan, plan
from crm.reports.periods import Criteria, ReportQuery
from crm.reports.staffing import forecast


class PeriodOut(BaseModel):
    date_from: dt.date
    date_to: dt.date
    time_zone: str


class Comparison(BaseModel):
    period: PeriodOut
    previous_period: PeriodOut
    scope: dict[str, int | None] = Field(description="The team and rep the figures cover (after access rules)")
    current: dict[str, Any]
    previous: dict[str, Any]


class ActivityOut(BaseModel):
    period: PeriodOut
    previous_period: PeriodOut
    scope: dict[str, int | None]
    reps: list[dict[str, Any]] = Field(description="rep_id, name, current, previous")
    total: dict[str, Any] = Field(description="current and previous totals")


class CostOut(Comparison):
    campaigns: list[dict[str, Any]]
    sources: list[dict[str, Any]]


class InboundQuery(ReportQuery):
    answer_within_seconds: int | None = Field(None, ge=0, le=3600,
                                              description="T for the service level (default SERVICE_LEVEL_SECONDS)")


class StaffingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calls: float | None = Field(None, ge=0, le=1_000_000, description="Calls offered in one interval")
    interval_minutes: int = Field(30, ge=1, le=1440)
    aht_seconds: float | None = Field(None, gt=0, le=86_400, description="Average handle time; required with calls")
    answer_within_seconds: float = Field(20, ge=0, le=3600)
    target_service_level: float = Field(0.8, gt=0, lt=1)
    shrinkage: float = Field(0.3, ge=0, lt=1)
    max_occupancy: float | None = Field(None, gt=0, le=1)
    date: dt.date | None = Field(None, description="Instead of calls: forecast this local day per 30 minutes")
    weeks: int = Field(4, ge=1, le=12, description="Weeks of history for the forecast")
    team_id: int | None = Field(None, ge=1, description="Forecast from this team's inbound calls")


# The planner's answer has exactly the fields of erlang.StaffingPlan: the schema is derived from it.
PlanOut = create_model("PlanOut", **{name: (hint, ...) for name, hint in get_type_hints(StaffingPlan).items()})


class IntervalOut(PlanOut):
    starts_at: str


class StaffingOut(BaseModel):
    plan: PlanOut | None = None
    intervals: list[IntervalOut] | None = None


def _frame(criteria: Criteria) -> dict:
    return {"period": criteria.period.as_dict(), "previous_period": criteria.previous.as_dict(),
            "scope": {"team_id": criteria.team_id, "rep_id": criteria.rep_id}}


@endpoint("/reports/funnel", summary="Conversion funnel of the leads created in a period", tags=["reports"],
          query=ReportQuery, response=Comparison)
def funnel(query: ReportQuery):
    criteria = service.criteria_for(current_api_user(), query)
    return {**_frame(criteria), **service.funnel(criteria)}


@endpoint("/reports/activity", summary="Rep activity: calls, connects, handle times, speed-to-lead, follow-ups, "
          "hand-offs", tags=["reports"], query=ReportQuery, response=ActivityOut)
def activity(query: ReportQuery):
    criteria = service.criteria_for(current_api_user(), query)
    return {**_frame(criteria), **service.activity(criteria)}


@endpoint("/reports/inbound", summary="Inbound contact-centre figures and CSAT", tags=["reports"],
          query=InboundQuery, response=Comparison)
def inbound(query: InboundQuery):
    criteria = service.criteria_for(current_api_user(), query)
    return {**_frame(criteria), **service.inbound(criteria, query.answer_within_seconds)}


@endpoint("/reports/cost", summary="Cost per call, and per campaign and source", tags=["reports"],
          query=ReportQuery, response=CostOut)
def cost(query: ReportQuery):
    criteria = service.criteria_for(current_api_user(), query)
    return {**_frame(criteria), **service.cost(criteria)}


def staffing_answer(user, query: StaffingQuery) -> dict:
    """One Erlang C plan (calls given) or a forecast day of them (date given); shared with the page."""
    if not access.may_plan_staffing(user):
        raise AccessDenied(_("The staffing planner is for managers and admins."))
    settings = {"answer_within_seconds": query.answer_within_seconds,
                "target_service_level": query.target_service_level, "shrinkage": query.shrinkage,
                "max_occupancy": query.max_occupancy}
    if query.calls is not None:
        if query.aht_seconds is None:
            raise ValidationFailed(_("Give the average handle time with the calls."),
                                   fields={"aht_seconds": _("Required with calls.")})
        if query.calls * query.aht_seconds / (query.interval_minutes * 60) >= MAX_TRAFFIC:
            raise ValidationFailed(_("That is more traffic than the planner handles."),
                                   fields={"calls": _("At most %(n)d Erlangs (calls × AHT / interval).", n=MAX_TRAFFIC)})
        return {"plan": plan(calls=query.calls, interval_minutes=query.interval_minutes,
                             aht_seconds=query.aht_seconds, **settings).as_dict()}
    if query.date is None:
        raise ValidationFailed(_("Give calls for one interval, or a date to forecast."),
                               fields={"calls": _("Give calls (with aht_seconds), or a date.")})
    scope = access.report_criteria_scope(user, team_id=query.team_id)
    intervals = forecast(day=query.date, weeks=query.weeks, zone=user.timezone or "UTC", team_id=scope["team_id"],
                         aht_seconds=query.aht_seconds, **settings)
    return {"intervals": [{"starts_at": i.starts_at.isoformat(), **i.plan.as_dict()} for i in intervals]}


@endpoint("/reports/staffing", summary="Erlang C staffing: agents and positions for a service level",
          tags=["reports"], query=StaffingQuery, response=StaffingOut, responses={403: "Not a manager or admin"})
def staffing(query: StaffingQuery):
    return staffing_answer(current_api_user(), query)
