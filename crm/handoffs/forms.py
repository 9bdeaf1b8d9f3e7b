"""Forms: the qualification a rep fills in to hand off, and the reasons for sending back or refusing."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional


class HandoffForm(FlaskForm):
    """Budget, authority, need, timeline (answer + met), notes, the first meeting, and who gets it."""

    budget = StringField(_l("Budget"), validators=[Optional(), Length(max=500)],
                         description=_l("e.g. “€40k approved for Q1”"))
    budget_met = BooleanField(_l("Budget met"))
    authority = StringField(_l("Authority"), validators=[Optional(), Length(max=500)],
                            description=_l("Who decides, and have we spoken to them?"))
    authority_met = BooleanField(_l("Authority met"))
    need = StringField(_l("Need"), validators=[Optional(), Length(max=500)],
                       description=_l("The problem they want solved"))
    need_met = BooleanField(_l("Need met"))
    timeline = StringField(_l("Timeline"), validators=[Optional(), Length(max=500)],
                           description=_l("When they want to buy"))
    timeline_met = BooleanField(_l("Timeline met"))
    notes = TextAreaField(_l("Notes for the field rep"), validators=[Optional(), Length(max=5000)])
    proposed_meeting_at = DateTimeLocalField(_l("Proposed first meeting (contact's local time)"),
                                             format="%Y-%m-%dT%H:%M", validators=[Optional()])
    to_user_id = SelectField(_l("Field rep"), choices=[], validate_choice=False)


class ReasonForm(FlaskForm):
    """Why a hand-off is sent back (field rep) or refused (manager); the service requires it."""

    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)])
