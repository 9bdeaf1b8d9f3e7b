from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional

from crm.i18n import LocalDecimalField


class StageForm(FlaskForm):
    """Move a lead: a stage, won, lost (with a reason) or reopen."""

    action = HiddenField()
    stage = SelectField(_l("Stage"), choices=[], validate_choice=False)
    reason = SelectField(_l("Why was it lost?"), choices=[], validate_choice=False)
    value = LocalDecimalField(_l("Won value"), validators=[Optional()], places=2)
    note = TextAreaField(_l("Note"), validators=[Optional()])


class LeadForm(FlaskForm):
    """A new lead for a contact (existing by id, or typed in), or a lead's details."""

    contact_id = HiddenField()
    first_name = StringField(_l("First name"), validators=[Optional(), Length(max=120)])
    last_name = StringField(_l("Last name"), validators=[Optional(), Length(max=120)])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    account = StringField(_l("Company"), validators=[Optional(), Length(max=200)])
    title = StringField(_l("Title"), validators=[Optional(), Length(max=200)],
                        description=_l("What is being sold, e.g. “Fibre for 40 seats”. Defaults to the contact's name."))
    source = StringField(_l("Source"), validators=[Optional(), Length(max=120)])
    campaign = SelectField(_l("Campaign"), choices=[], validate_choice=False)
    value = LocalDecimalField(_l("Value"), validators=[Optional()], places=2)
    currency = StringField(_l("Currency"), validators=[Optional(), Length(min=3, max=3)], default="EUR")
    score = IntegerField(_l("Score (0–100)"), validators=[Optional(), NumberRange(min=0, max=100)], default=0)
