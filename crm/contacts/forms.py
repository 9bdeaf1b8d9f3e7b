from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length, Optional


class ContactForm(FlaskForm):
    first_name = StringField(_l("First name"), validators=[DataRequired(), Length(max=120)])
    last_name = StringField(_l("Last name"), validators=[Optional(), Length(max=120)])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)],
                        description=_l("Any usual writing; numbers without a country code are read as Portuguese."))
    account = StringField(_l("Company"), validators=[Optional(), Length(max=200)])
    timezone = StringField(_l("Time zone"), validators=[Optional(), Length(max=64)],
                           description=_l("Guessed from the phone number when left empty."))
    locale = StringField(_l("Language code"), validators=[Optional(), Length(max=10)], default="en")
    do_not_call = BooleanField(_l("Do not call"))
    email_opt_out = BooleanField(_l("Opted out of marketing email"))


class MergeForm(FlaskForm):
    duplicate_id = StringField(_l("Duplicate contact number"), validators=[DataRequired()])
