"""Task forms: new task (on /tasks and the lead page), reschedule, reassign. Times are the user's local time."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from crm.tasks.models import TaskKind

LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
KIND_CHOICES = [SelectChoice(TaskKind.FOLLOW_UP.value, _l("Follow-up")), SelectChoice(TaskKind.CALL.value, _l("Call")),
                SelectChoice(TaskKind.EMAIL.value, _l("Email")),
                SelectChoice(TaskKind.RETENTION_CALLBACK.value, _l("Retention callback")),
                SelectChoice(TaskKind.HANDOFF_REVIEW.value, _l("Hand-off review"))]


class TaskForm(FlaskForm):
    title = StringField(_l("Task"), validators=[DataRequired(), Length(max=200)])
    due_at = DateTimeLocalField(_l("Due (your time)"), format=LOCAL_FORMATS, validators=[DataRequired()])
    kind = SelectField(_l("Kind"), choices=KIND_CHOICES, default=TaskKind.FOLLOW_UP.value)
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])
    lead_id = IntegerField(_l("Lead number"), validators=[Optional(), NumberRange(min=1)],
                           description=_l("The number at the end of the lead's address, e.g. 123 in /leads/123."))
    contact_id = IntegerField(_l("Contact number"), validators=[Optional(), NumberRange(min=1)],
                              description=_l("Or a contact without a lead: e.g. 45 in /contacts/45."))
    assignee_id = SelectField(_l("For"), coerce=lambda v: int(v) if v not in (None, "", "None") else None,
                              validate_choice=False)


class RescheduleForm(FlaskForm):
    due_at = DateTimeLocalField(_l("New due time"), format=LOCAL_FORMATS, validators=[DataRequired()])


class ReassignForm(FlaskForm):
    assignee_id = SelectField(_l("Give to"), coerce=lambda v: int(v) if v not in (None, "", "None") else None,
                              validate_choice=False, validators=[DataRequired()])
