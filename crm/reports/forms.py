"""Report filters, the staffing planner, targets and the CSAT survey, as forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, Form, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from crm.reports.models import TargetMetric
from crm.touches.models import Channel

CHANNEL_LABELS = {Channel.CALL: _l("Call"), Channel.EMAIL: _l("Email"), Channel.CHAT: _l("Chat"),
                  Channel.SOCIAL: _l("Social"), Channel.SMS: _l("SMS"), Channel.MEETING: _l("Meeting")}


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices."""
    return [SelectChoice(value, label) for value, label in pairs]


METRIC_LABELS = {TargetMetric.CALLS: _l("Outbound calls"), TargetMetric.CONNECTS: _l("Connects"),
                 TargetMetric.HANDOFFS: _l("Hand-offs sent"), TargetMetric.WON_COUNT: _l("Deals won"),
                 TargetMetric.WON_VALUE: _l("Won value")}


class ReportFilterForm(Form):
    """Read from the query string (a GET form: no CSRF, nothing changes). Checked by ReportQuery."""

    date_from = StringField(_l("From"), render_kw={"type": "date"})
    date_to = StringField(_l("To"), render_kw={"type": "date"})
    team_id = SelectField(_l("Team"), choices=[], validate_choice=False)
    rep_id = SelectField(_l("Rep"), choices=[], validate_choice=False)
    source_id = SelectField(_l("Source"), choices=[], validate_choice=False)
    campaign_id = SelectField(_l("Campaign"), choices=[], validate_choice=False)
    channel = SelectField(_l("Channel"), choices=options([("", _l("All channels"))] + [(c.value, label) for c, label
                                                                                      in CHANNEL_LABELS.items()]),
                          validate_choice=False)


class StaffingForm(Form):
    """The planner's inputs (a GET form); checked by the API's StaffingQuery, so the rules are one."""

    mode = RadioField(_l("Plan from"), choices=options([("interval", _l("Calls I expect in one interval")),
                                                        ("forecast", _l("Forecast from past weeks"))]), default="interval")
    calls = StringField(_l("Calls per interval"), render_kw={"inputmode": "decimal"})
    interval_minutes = StringField(_l("Interval (minutes)"), default="30", render_kw={"inputmode": "numeric"})
    aht_seconds = StringField(_l("Average handle time (seconds)"), render_kw={"inputmode": "decimal"},
                              description=_l("For a forecast, leave empty to use the past weeks' own."))
    answer_within_seconds = StringField(_l("Answer within (seconds)"), default="20")
    target_service_level = StringField(_l("Target service level (%)"), default="80")
    shrinkage = StringField(_l("Shrinkage (%)"), default="30",
                            description=_l("Breaks, training and absence: time paid but not on the phones."))
    max_occupancy = StringField(_l("Highest occupancy (%)"), description=_l("Optional."))
    date = StringField(_l("Day to forecast"), render_kw={"type": "date"})
    weeks = StringField(_l("Weeks of history"), default="4")


class TargetForm(FlaskForm):
    subject = SelectField(_l("For"), choices=[], validate_choice=False, validators=[InputRequired()])
    metric = SelectField(_l("Metric"), choices=options((m.value, label) for m, label in METRIC_LABELS.items()),
                         validate_choice=False)
    period_start = DateField(_l("First day"), validators=[Optional()])
    period_end = DateField(_l("Last day"), validators=[Optional()])
    value = DecimalField(_l("Target"), validators=[Optional(), NumberRange(min=0)], places=2)


class DeleteForm(FlaskForm):
    """A target's delete button: no fields of its own, only the CSRF token every FlaskForm carries."""


class SurveyForm(FlaskForm):
    score = RadioField(_l("How satisfied were you with your conversation with us?"),
                       choices=options((str(n), str(n)) for n in range(1, 6)),
                       validators=[InputRequired(message=_l("Pick a score from 1 to 5."))])
    comment = TextAreaField(_l("Anything you would like to tell us? (optional)"),
                            validators=[Optional(), Length(max=2000)])
