"""The cadence editor: a name and its steps (one row each, plus an empty row to add one)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, FieldList, Form, FormField, IntegerField, SelectField, StringField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from crm.touches.models import Channel

CHANNEL_CHOICES = [SelectChoice("", _l("— no step —"))] + [
    SelectChoice(c.value, label) for c, label in ((Channel.CALL, _l("Call")), (Channel.EMAIL, _l("Email")),
                                                  (Channel.SMS, _l("SMS")), (Channel.CHAT, _l("Chat")),
                                                  (Channel.SOCIAL, _l("Social")), (Channel.MEETING, _l("Meeting")))]


class StepForm(Form):
    """One step; a row whose channel is empty is the blank 'add a step' row and is ignored."""

    position = IntegerField(_l("Position"), validators=[Optional()])
    day_offset = IntegerField(_l("Day"), validators=[Optional()])
    window_start = TimeField(_l("From"), validators=[Optional()])
    window_end = TimeField(_l("Until"), validators=[Optional()])
    channel = SelectField(_l("Channel"), choices=CHANNEL_CHOICES, validate_choice=False)
    template_key = StringField(_l("Email template"), validators=[Optional(), Length(max=80)])
    only_if_unreached = BooleanField(_l("Only if never reached"))
    remove = BooleanField(_l("Remove"))


class CadenceForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    steps = FieldList(FormField(StepForm), min_entries=1)
