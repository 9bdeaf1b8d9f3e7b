"""Forms for templates (admins) and composing an email on a lead (reps)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from crm.email.models import TemplateKind


class TemplateForm(FlaskForm):
    key = StringField(_l("Key"), validators=[DataRequired(), Length(max=80)],
                      description=_l("What cadences and code ask for, e.g. follow_up. One per locale."))
    locale = StringField(_l("Locale"), default="en", validators=[DataRequired(), Length(max=10)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=160)])
    kind = SelectField(_l("Kind"), choices=[
        SelectChoice(TemplateKind.TRANSACTIONAL.value, _l("Transactional")),
        SelectChoice(TemplateKind.MARKETING.value, _l("Marketing (adds an unsubscribe link)")),
    ])
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=300)])
    body = TextAreaField(_l("Body"), validators=[DataRequired(), Length(max=50_000)],
                         description=_l("Plain text with {{ contact.first_name }}, {{ lead.title }}, {{ rep.name }}, "
                                        "{{ company.name }}, {{ unsubscribe_url }} …"))


class ComposeForm(FlaskForm):
    """A rep's email to the lead's contact; ``nonce`` makes a double submit queue one message."""

    nonce = HiddenField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9_-]{8,64}$")])
    template = SelectField(_l("Template"), choices=[], validate_choice=False, validators=[Optional()])
    subject = StringField(_l("Subject"), validators=[Optional(), Length(max=300)])
    body = TextAreaField(_l("Message"), validators=[Optional(), Length(max=50_000)])
