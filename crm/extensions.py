"""Extensions, created unbound; create_app() binds them."""

from flask_babel import Babel
from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from crm.db import Base

db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
bootstrap = Bootstrap5()
limiter = Limiter(key_func=get_remote_address, default_limits=[])

UNLIMITED_BLUEPRINTS = frozenset({"api"})  # token-authenticated; its limits are the callers' own (API_MAX_BODY, batches)


@limiter.request_filter
def _not_rate_limited() -> bool:
    """The JSON API declares no rate limits, so its requests skip the limiter's per-request work (≈ 5 % of a
    small API request's time); the limits on sign-in and the calendar feed are on page endpoints."""
    from flask import request

    return request.blueprint in UNLIMITED_BLUEPRINTS
