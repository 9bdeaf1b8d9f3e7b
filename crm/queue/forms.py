"""The lead workspace's log form: what happened, how long, notes, the next step."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, HiddenField, IntegerField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

CHANNEL_CHOICES = [
    SelectChoice("call", _l("Call")), SelectChoice("sms", _l("SMS")), SelectChoice("chat", _l("Chat")),
    SelectChoice("social", _l("Social")), SelectChoice("meeting", _l("Meeting")),
]
OUTCOME_CHOICES = [
    SelectChoice("no_answer", _l("No answer")), SelectChoice("connected", _l("Connected")),
    SelectChoice("busy", _l("Busy")), SelectChoice("voicemail", _l("Voicemail")),
    SelectChoice("wrong_number", _l("Wrong number")), SelectChoice("sent", _l("Sent")),
    SelectChoice("replied", _l("Replied")), SelectChoice("held", _l("Meeting held")),
    SelectChoice("no_show", _l("No-show")),
]


class LogOutcomeForm(FlaskForm):
    outcome = SelectField(_l("Outcome"), choices=OUTCOME_CHOICES, validators=[InputRequired()])
    channel = SelectField(_l("Channel"), choices=CHANNEL_CHOICES, default="call")
    talk_seconds = IntegerField(_l("Talk time (seconds)"), validators=[Optional(), NumberRange(min=0, max=86400)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=20000)])
    follow_up_at = DateTimeLocalField(_l("Next step (follow-up, your time)"), format="%Y-%m-%dT%H:%M",
                                      validators=[Optional()])
    then_next = BooleanField(_l("Then the next lead"))
    had_lease = HiddenField()


class ReassignForm(FlaskForm):
    """The lead list's bulk action: the ticked leads go to one rep."""

    owner_id = SelectField(_l("Give to"), choices=[], validate_choice=False, validators=[InputRequired()])
