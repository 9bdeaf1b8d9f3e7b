from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange

CHANNEL_CHOICES = [SelectChoice("calls", _l("Calls (phone system)")), SelectChoice("chat", _l("Chat")),
                   SelectChoice("social", _l("Social"))]


class IntegrationForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    channel = SelectField(_l("Channel"), choices=CHANNEL_CHOICES)
    team_id = SelectField(_l("Team for new leads"), coerce=lambda v: int(v) if v not in (None, "", "None") else None,
                          validate_choice=False,
                          description=_l("Callers and handles we do not know become leads of this team."))


class RotateForm(FlaskForm):
    overlap_hours = IntegerField(_l("Old secret keeps working for (hours)"), default=24,
                                 validators=[NumberRange(min=0, max=336)],
                                 description=_l("Time to update the sender; 0 ends the old secret now."))


class ConfirmForm(FlaskForm):
    """A bare POST with CSRF (deactivate, reactivate)."""
