from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Optional


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    remember = BooleanField(_l("Keep me signed in"))
    submit = SubmitField(_l("Sign in"))


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired()])
    locale = SelectField(_l("Language"), choices=[SelectChoice("en", "English"), SelectChoice("pt", "Português"),
                                                  SelectChoice("ro", "Română"), SelectChoice("ru", "Русский")])
    timezone = StringField(_l("Time zone"), validators=[DataRequired()],
                           description=_l("An IANA name, e.g. Europe/Lisbon. Times are shown in this zone."))
    current_password = PasswordField(_l("Current password"), validators=[Optional()])
    new_password = PasswordField(_l("New password"), validators=[Optional()],
                                 description=_l("Leave both empty to keep your password."))
