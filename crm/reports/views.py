"""The report pages (funnel, activity, inbound, cost, staffing, targets), their CSV, and the CSAT survey page.

Views are thin: filters are checked by the API's pydantic models (one set of rules), the
figures come from crm.reports.service, access from crm/access.py.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from pydantic import ValidationError
from sqlalchemy import select

from crm import access
from crm.api.blueprint import validation_fields
from crm.auth.models import Role, Team, User
from crm.db import utcnow
from crm.errors import DomainError
from crm.extensions import db
from crm.leads.models import Campaign, Source
from crm.reports import charts, formatting, layout, service, surveys, targets
from crm.reports.api import InboundQuery, StaffingQuery, staffing_answer
from crm.reports.forms import METRIC_LABELS, DeleteForm, ReportFilterForm, StaffingForm, SurveyForm, TargetForm, options
from crm.reports.models import Target
from crm.reports.periods import ReportQuery

bp = Blueprint("reports", __name__)

REPORTS = {"funnel": _l("Funnel"), "activity": _l("Rep activity"), "inbound": _l("Inbound"), "cost": _l("Cost")}


# ---------------------------------------------------------------- filters

def _filters(model=ReportQuery):
    """The filter form from the query string, and the checked query (None when it has errors)."""
    form = ReportFilterForm(request.args)
    _fill_choices(form)
    data = {k: v for k, v in request.args.items() if k in model.model_fields and v != ""}
    try:
        return form, model.model_validate(data)
    except ValidationError as exc:
        for name, message in validation_fields(exc).items():
            field = getattr(form, name, None)
            if field is not None:
                field.errors = [message]
        return form, None


def _fill_choices(form: ReportFilterForm) -> None:
    user = current_user
    form.team_id.choices = options([("", _("All teams"))] + [
        (str(t.id), t.name) for t in db.session.scalars(select(Team).order_by(Team.name))
    ]) if user.role == Role.ADMIN else []
    if user.role == Role.ADMIN:
        people = select(User).where(User.role.in_([Role.REP, Role.FIELD]))
    elif user.role == Role.MANAGER and user.team_id is not None:
        people = select(User).where(User.team_id == user.team_id, User.role.in_([Role.REP, Role.FIELD]))
    else:
        people = None
    form.rep_id.choices = options([("", _("Everyone"))] + [
        (str(u.id), u.name) for u in db.session.scalars(people.order_by(User.name))]) if people is not None else []
    form.source_id.choices = options([("", _("All sources"))] + [
        (str(s.id), s.name) for s in db.session.scalars(select(Source).order_by(Source.name))])
    form.campaign_id.choices = options([("", _("All campaigns"))] + [
        (str(c.id), c.name) for c in db.session.scalars(select(Campaign).order_by(Campaign.name))])


def _render(name: str, template: str, form, criteria, **context):
    if criteria is not None:  # show the period the figures are for, also when it was the default
        form.date_from.data = form.date_from.data or criteria.period.first_day.isoformat()
        form.date_to.data = form.date_to.data or criteria.period.last_day.isoformat()
    return render_template(template, report=name, reports=REPORTS, form=form, criteria=criteria, fmt=formatting,
                           csv_url=url_for("reports.download", name=name, **request.args), **context)


# ---------------------------------------------------------------- pages

@bp.get("/reports")
@login_required
def index():
    return redirect(url_for("reports.funnel"))


def _report(name: str, template: str, build, model=ReportQuery):
    """A report page: the filters, then ``build(criteria, query)``'s chart and rows; 422 with the form's errors."""
    form, query = _filters(model)
    if query is None:
        return _render(name, template, form, None), 422
    criteria = service.criteria_for(current_user, query)
    return _render(name, template, form, criteria, **build(criteria, query))


def _bars(chart_id: str, title, description, bars, fmt=formatting.num):
    return charts.bar_chart(chart_id, title, description, bars, fmt=fmt, previous_label=_("Previous period"))


@bp.get("/reports/funnel")
@login_required
def funnel():
    def build(criteria, _query):
        result = service.funnel(criteria)
        cur, prev = result["current"], result["previous"]
        stages = [("created", _("Created")), ("reached_nurture", _("Nurture")), ("reached_propose", _("Propose")),
                  ("reached_close", _("Close")), ("won", _("Won"))]
        chart = _bars("funnel-chart", _("Funnel: leads created in the period and how far they got"),
                      _("Bars per stage; the thin light bar is the previous period. The table beside "
                        "has every figure."), [(label, cur[k], prev[k]) for k, label in stages])
        return {"result": result, "chart": chart, "rows": layout.comparison_rows(cur, prev, layout.FUNNEL)}
    return _report("funnel", "reports/funnel.html", build)


@bp.get("/reports/activity")
@login_required
def activity():
    def build(criteria, _query):
        result = service.activity(criteria)
        chart = _bars("activity-chart", _("Outbound calls per rep"),
                      _("Outbound calls in the period per rep; the thin light bar is the previous period."),
                      [(r["name"], r["current"]["outbound_calls"], r["previous"]["outbound_calls"])
                       for r in result["reps"]])
        total = result["total"]
        return {"result": result, "chart": chart, "columns": layout.ACTIVITY,
                "rows": layout.comparison_rows(total["current"], total["previous"], layout.ACTIVITY)}
    return _report("activity", "reports/activity.html", build)


@bp.get("/reports/inbound")
@login_required
def inbound():
    def build(criteria, query):
        result = service.inbound(criteria, query.answer_within_seconds)
        cur, prev = result["current"], result["previous"]
        chart = _bars("inbound-chart", _("Inbound calls offered, answered and abandoned"),
                      _("Thin light bars are the previous period."),
                      [(_("Offered"), cur["offered"], prev["offered"]),
                       (_("Answered"), cur["answered"], prev["answered"]),
                       (_("Abandoned"), cur["abandoned"], prev["abandoned"])])
        return {"result": result, "chart": chart, "rows": layout.comparison_rows(cur, prev, layout.INBOUND)}
    return _report("inbound", "reports/inbound.html", build, InboundQuery)


@bp.get("/reports/cost")
@login_required
def cost():
    def build(criteria, _query):
        result = service.cost(criteria)
        chart = _bars("cost-chart", _("Cost per campaign (spend + labour)"), _("Thin light bars are the previous period."),
                      [(c["name"], float(c["current"]["cost"]), float(c["previous"]["cost"]))
                       for c in result["campaigns"]], fmt=formatting.money)
        return {"result": result, "chart": chart, "cost_columns": layout.COST_ROW,
                "rows": layout.comparison_rows(result["current"], result["previous"], layout.COST)}
    return _report("cost", "reports/cost.html", build)


# ---------------------------------------------------------------- CSV

@bp.get("/reports/<any(funnel, activity, inbound, cost, staffing):name>.csv")
@login_required
def download(name: str):
    if name == "staffing":
        header, rows = _staffing_csv()
    else:
        model = InboundQuery if name == "inbound" else ReportQuery
        data = {k: v for k, v in request.args.items() if k in model.model_fields and v != ""}
        try:
            query = model.model_validate(data)
        except ValidationError as exc:
            abort(422, "; ".join(f"{k}: {v}" for k, v in validation_fields(exc).items()))
        criteria = service.criteria_for(current_user, query)
        header, rows = _report_csv(name, criteria, query)
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(layout.csv_lines(header, rows), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="touchline-{name}-{stamp}.csv"'})


def _report_csv(name: str, criteria, query) -> tuple[list[str], list[list]]:
    period = criteria.period
    head = ["figure", f"{period.first_day}..{period.last_day}",
            f"{criteria.previous.first_day}..{criteria.previous.last_day}"]
    if name == "funnel":
        result = service.funnel(criteria)
        rows = layout.comparison_csv(result["current"], result["previous"], layout.FUNNEL)
        rows += [[f"lost: {r['reason']}", r["leads"], ""] for r in result["current"]["lost_reasons"]]
        return head, rows
    if name == "inbound":
        result = service.inbound(criteria, query.answer_within_seconds)
        return head, layout.comparison_csv(result["current"], result["previous"], layout.INBOUND)
    if name == "cost":
        result = service.cost(criteria)
        header = ["kind", "name", *(k for k, _l, _k in layout.COST_ROW)]
        rows = [["total", "", result["current"]["calls"], formatting.csv_value(result["current"]["call_labour"], "money"),
                 formatting.csv_value(result["current"]["cost_per_call"], "money")]]
        for kind in ("campaigns", "sources"):
            for row in result[kind]:
                rows.append([kind[:-1], row["name"], *(formatting.csv_value(row["current"][k], fmt)
                                                       for k, _l, fmt in layout.COST_ROW)])
        return header, rows
    result = service.activity(criteria)
    header = ["rep", *(k for k, _l, _k in layout.ACTIVITY)]
    rows = [[r["name"], *(formatting.csv_value(r["current"][k], fmt) for k, _l, fmt in layout.ACTIVITY)]
            for r in result["reps"]]
    rows.append([_("Total"), *(formatting.csv_value(result["total"]["current"][k], fmt)
                               for k, _l, fmt in layout.ACTIVITY)])
    return header, rows


# ---------------------------------------------------------------- staffing

def _staffing_query(form: StaffingForm):
    """StaffingQuery from the form (percentages on the page, shares in the API); errors go beside fields."""
    if not request.args:
        return None
    data = {}
    forecast = form.mode.data == "forecast"
    keys = ["interval_minutes", "aht_seconds", "answer_within_seconds", "target_service_level", "shrinkage",
            "max_occupancy"] + (["date", "weeks"] if forecast else ["calls"])
    for key in keys:
        raw = (request.args.get(key) or "").strip()
        if raw == "":
            continue
        if key in ("target_service_level", "shrinkage", "max_occupancy"):
            try:
                raw = float(raw.replace(",", ".")) / 100
            except ValueError:
                getattr(form, key).errors = [_("A number, in per cent.")]
                continue
        data[key] = raw
    if forecast:
        data.pop("interval_minutes", None)
    try:
        return StaffingQuery.model_validate(data)
    except ValidationError as exc:
        for name, message in validation_fields(exc).items():
            field = getattr(form, name, None)
            if field is not None:
                field.errors = [message]
        return None


@bp.get("/reports/staffing")
@login_required
def staffing():
    if not access.may_plan_staffing(current_user):
        abort(403)
    form = StaffingForm(request.args)
    answer = None
    query = _staffing_query(form)
    if query is not None and not any(f.errors for f in form):
        try:
            answer = staffing_answer(current_user, query)
        except DomainError as exc:
            for name, message in exc.fields.items():
                getattr(form, name).errors = [message]
    chart = None
    if answer and answer.get("intervals"):
        chart = charts.column_chart(
            "staffing-chart", _("Positions to schedule per 30 minutes"),
            _("Agents needed after shrinkage for each interval of the day; the table below has every figure."),
            [(datetime.fromisoformat(i["starts_at"]).strftime("%H:%M"), i["positions"]) for i in answer["intervals"]])
    status = 422 if any(f.errors for f in form) else 200
    return render_template("reports/staffing.html", form=form, answer=answer, chart=chart, fmt=formatting,
                           report="staffing", reports=REPORTS,
                           csv_url=url_for("reports.download", name="staffing", **request.args)), status


def _staffing_csv() -> tuple[list[str], list[list]]:
    if not access.may_plan_staffing(current_user):
        abort(403)
    form = StaffingForm(request.args)
    query = _staffing_query(form)
    if query is None or any(f.errors for f in form):
        abort(422, _("Fill in the planner first."))
    answer = staffing_answer(current_user, query)
    header = ["starts_at", "calls", "aht_seconds", "traffic_erlangs", "agents", "positions", "service_level",
              "asa_seconds", "occupancy", "probability_of_waiting"]
    plans = answer["intervals"] if answer.get("intervals") else [{"starts_at": "", **answer["plan"]}]
    return header, [[p[k] if p[k] is not None else formatting.DASH for k in header] for p in plans]


# ---------------------------------------------------------------- targets

def _subject_choices():
    user = current_user
    if user.role == Role.ADMIN:
        teams = db.session.scalars(select(Team).order_by(Team.name)).all()
        people = db.session.scalars(select(User).where(User.role.in_([Role.REP, Role.FIELD])).order_by(User.name)).all()
    else:
        teams = [user.team] if user.team else []
        people = db.session.scalars(select(User).where(User.team_id == user.team_id, User.team_id.is_not(None),
                                                       User.role.in_([Role.REP, Role.FIELD])).order_by(User.name)).all()
    return options([(f"team:{t.id}", _("Team %(name)s", name=t.name)) for t in teams]
                   + [(f"user:{u.id}", u.name) for u in people])


def _save(form: TargetForm, target: Target | None):
    try:
        saved = targets.save_target(target, actor=current_user, subject=form.subject.data, metric=form.metric.data,
                                    period_start=form.period_start.data, period_end=form.period_end.data,
                                    value=form.value.data)
    except DomainError as exc:
        for name, message in exc.fields.items():
            getattr(form, name).errors = list(getattr(form, name).errors) + [message]
        if not exc.fields:
            form.subject.errors = [exc.message]
        return None
    return saved


@bp.route("/reports/targets", methods=["GET", "POST"])
@login_required
def targets_index():
    form = TargetForm()
    form.subject.choices = _subject_choices()
    status = 200
    if request.method == "POST":
        if not access.may_manage_targets(current_user):
            abort(403)
        if form.validate() and _save(form, None) is not None:
            flash(_("Target saved."), "success")
            return redirect(url_for("reports.targets_index"))
        status = 422
    rows = targets.attainment(targets.visible_targets(current_user))
    return render_template("reports/targets.html", form=form, rows=rows, metric_labels=METRIC_LABELS,
                           may_manage=access.may_manage_targets(current_user), delete_form=DeleteForm(),
                           fmt=formatting, report="targets", reports=REPORTS), status


@bp.route("/reports/targets/<int:target_id>/edit", methods=["GET", "POST"])
@login_required
def target_edit(target_id: int):
    target = access.get_target(current_user, target_id, for_change=True)
    subject = f"user:{target.user_id}" if target.user_id else f"team:{target.team_id}"
    form = TargetForm(obj=target, subject=subject, metric=target.metric.value)
    form.subject.choices = _subject_choices()
    status = 200
    if request.method == "POST":
        if form.validate() and _save(form, target) is not None:
            flash(_("Target saved."), "success")
            return redirect(url_for("reports.targets_index"))
        status = 422
    return render_template("reports/target_form.html", form=form, target=target, report="targets",
                           reports=REPORTS), status


@bp.post("/reports/targets/<int:target_id>/delete")
@login_required
def target_delete(target_id: int):
    target = access.get_target(current_user, target_id, for_change=True)
    if DeleteForm().validate_on_submit():
        targets.delete_target(target, actor=current_user)
        flash(_("Target deleted."), "success")
    return redirect(url_for("reports.targets_index"))


# ---------------------------------------------------------------- the CSAT survey (public, by token)

@bp.route("/survey/<token>", methods=["GET", "POST"])
def survey(token: str):
    found = surveys.find_open_survey(token)
    if found is None:
        abort(404)
    if found.answered_at is not None:
        return render_template("reports/survey_thanks.html", already=True)
    form = SurveyForm()
    if form.validate_on_submit():
        surveys.answer_survey(found, score=int(form.score.data), comment=form.comment.data or "")
        return render_template("reports/survey_thanks.html", already=False)
    return render_template("reports/survey.html", form=form), 422 if request.method == "POST" else 200
