from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField, HiddenField, SelectField, TextAreaField
from wtforms.validators import Optional


class StageForm(FlaskForm):
    """Move a lead: a stage, won, lost (with a reason) or reopen."""

    action = HiddenField()
    stage = SelectField(_l("Stage"), choices=[], validate_choice=False)
    reason = SelectField(_l("Why was it lost?"), choices=[], validate_choice=False)
    value = DecimalField(_l("Won value"), validators=[Optional()], places=2)
    note = TextAreaField(_l("Note"), validators=[Optional()])
