from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField


class RunNowForm(FlaskForm):
    """Only the CSRF token: the job is in the URL."""


class JobSettingsForm(FlaskForm):
    """The jobs' settings; the rules are checked by the services (crm/tasks/retention.py, crm/leads/recycle.py)."""

    retention_offsets = StringField(
        _l("Retention callbacks, days after the win"),
        description=_l("Increasing whole numbers separated by commas, e.g. 30, 90, 180."))
    retention_repeat_days = StringField(
        _l("Then one callback every … days"), description=_l("After the last day above, e.g. 180."))
    recycle_after_days = StringField(
        _l("Recycle an open lead after … days without a touch"),
        description=_l("It goes back to its team's unassigned pool."))
