from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, IntegerField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, NumberRange, Optional

from crm.i18n import LocalDecimalField

ROLE_CHOICES = [SelectChoice("rep", _l("Inside-sales rep")), SelectChoice("field", _l("Field-sales rep")),
                SelectChoice("manager", _l("Manager")), SelectChoice("admin", _l("Admin"))]
LOCALE_CHOICES = [SelectChoice("en", "English"), SelectChoice("pt", "Português"), SelectChoice("ro", "Română"),
                  SelectChoice("ru", "Русский")]


class UserForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email()])
    name = StringField(_l("Name"), validators=[DataRequired()])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    team_id = SelectField(_l("Team"), coerce=lambda v: int(v) if v not in (None, "", "None") else None,
                          validate_choice=False)
    timezone = StringField(_l("Time zone"), default="Europe/Lisbon", validators=[DataRequired()])
    locale = SelectField(_l("Language"), choices=LOCALE_CHOICES)
    hourly_cost = LocalDecimalField(_l("Hourly cost"), default=0, places=2, validators=[Optional(), NumberRange(min=0)])
    capacity = IntegerField(_l("Open-lead cap"), validators=[Optional(), NumberRange(min=0)],
                            description=_l("Round-robin skips a rep with this many open leads. Empty: no cap."))
    territory = StringField(_l("Territory (country codes)"), validators=[Optional()],
                            description=_l("For field reps: e.g. PT ES"))
    active = BooleanField(_l("Active"), default=True)
    password = PasswordField(_l("Password"), validators=[Optional()],
                             description=_l("At least 10 characters. Leave empty to keep the current one."))


class TeamForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired()])
    timezone = StringField(_l("Time zone"), validators=[DataRequired()])
    pool_mode = BooleanField(_l("Pool mode: new leads wait in the team's pool"))
    speed_to_lead_seconds = IntegerField(_l("Speed-to-lead limit (seconds)"), validators=[DataRequired()])
    handoff_sla_hours = IntegerField(_l("Hand-off acceptance limit (working hours)"), validators=[DataRequired()])
    handoff_min_criteria = IntegerField(_l("Qualification criteria needed without approval (0–4)"),
                                        validators=[NumberRange(min=0, max=4)])
    handoff_rule = SelectField(_l("Choose the field rep by"), choices=[
        SelectChoice("manual", _l("The inside rep's choice")), SelectChoice("territory", _l("Territory (contact's country)")),
        SelectChoice("round_robin", _l("Round-robin among field reps"))])


class LostReasonForm(FlaskForm):
    label = StringField(_l("New reason"), validators=[DataRequired()])
