"""Settings from the environment, one class per environment.

Everything has a working default on a laptop: a SQLite file and a secret key
generated once under ``instance/``. ``CRM_ENV=production`` refuses to start
without ``SECRET_KEY`` and ``DATABASE_URL``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("CRM_INSTANCE_PATH", BASE_DIR / "instance"))


class ConfigError(RuntimeError):
    """The environment does not describe a runnable app."""


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _secret_key_from_instance() -> str:
    """A secret generated once into instance/, so sessions survive restarts."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


class Config:
    ENV_NAME = "development"
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'touchline.db'}"
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # Pooled connections unused for this long are checked with a SELECT 1 before a request gets one
    # (crm.db.ping_when_idle; -1: never). Cheaper than pinging on every checkout.
    DATABASE_PING_AFTER_IDLE_SECONDS = _env_int("DATABASE_PING_AFTER_IDLE_SECONDS", 10)
    SECRET_KEY = os.environ.get("SECRET_KEY") or None

    SENDGRID_API_KEY = os.environ.get("SENDGRID_API_KEY") or None
    SENDGRID_API_HOST = os.environ.get("SENDGRID_API_HOST") or "https://api.sendgrid.com"
    SENDGRID_WEBHOOK_PUBLIC_KEY = os.environ.get("SENDGRID_WEBHOOK_PUBLIC_KEY") or None
    SENDGRID_WEBHOOK_MAX_AGE = _env_int("SENDGRID_WEBHOOK_MAX_AGE", 0)
    SENDGRID_MAX_ATTEMPTS = _env_int("SENDGRID_MAX_ATTEMPTS", 6)
    SENDGRID_CONCURRENCY = _env_int("SENDGRID_CONCURRENCY", 8)  # Mail Send calls in flight per sender
    MAIL_FROM = os.environ.get("MAIL_FROM") or "Touchline <sales@touchline.example>"
    INBOUND_PARSE_TOKEN = os.environ.get("INBOUND_PARSE_TOKEN") or None
    INBOUND_REPLY_DOMAIN = os.environ.get("INBOUND_REPLY_DOMAIN") or "reply.touchline.example"
    CALLING_HOURS = os.environ.get("CALLING_HOURS") or "08:00-21:00"
    DEFAULT_PHONE_REGION = os.environ.get("DEFAULT_PHONE_REGION") or "PT"
    DEFAULT_CURRENCY = os.environ.get("DEFAULT_CURRENCY") or "EUR"
    DEFAULT_TIMEZONE = os.environ.get("DEFAULT_TIMEZONE") or "Europe/Lisbon"
    PUBLIC_URL = os.environ.get("PUBLIC_URL") or "http://127.0.0.1:5000"
    LEASE_MINUTES = _env_int("LEASE_MINUTES", 15)

    # The job process (crm/scheduler). Extra job modules or packages, comma separated
    # (tests add fast jobs this way); jobs not to schedule; how often a standby
    # scheduler retries the leader lock; how late a missed run may still start.
    SCHEDULER_EXTRA_JOBS = os.environ.get("SCHEDULER_EXTRA_JOBS") or ""
    SCHEDULER_DISABLED_JOBS = os.environ.get("SCHEDULER_DISABLED_JOBS") or ""
    SCHEDULER_LOCK_RETRY_SECONDS = _env_int("SCHEDULER_LOCK_RETRY_SECONDS", 5)
    SCHEDULER_MISFIRE_GRACE_SECONDS = _env_int("SCHEDULER_MISFIRE_GRACE_SECONDS", 6 * 3600)
    SCHEDULER_WORKERS = _env_int("SCHEDULER_WORKERS", 4)
    SCHEDULER_LOCK_FILE = os.environ.get("SCHEDULER_LOCK_FILE") or None
    JOB_RUN_KEEP_DAYS = _env_int("JOB_RUN_KEEP_DAYS", 30)

    # Reports (docs/metrics.md): T for the inbound service level; CSAT surveys at most once per
    # contact per N days, answerable for M days.
    SERVICE_LEVEL_SECONDS = _env_int("SERVICE_LEVEL_SECONDS", 20)
    CSAT_SURVEY_EVERY_DAYS = _env_int("CSAT_SURVEY_EVERY_DAYS", 30)
    CSAT_SURVEY_VALID_DAYS = _env_int("CSAT_SURVEY_VALID_DAYS", 14)

    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 25 * 1024 * 1024)
    API_MAX_BODY = _env_int("API_MAX_BODY", 1024 * 1024)
    # Signed webhooks from phone, chat and social systems (crm/integrations).
    WEBHOOK_MAX_BODY = _env_int("WEBHOOK_MAX_BODY", 256 * 1024)
    SCREEN_POP_HOLD_SECONDS = _env_int("SCREEN_POP_HOLD_SECONDS", 0)  # >0 only with threaded workers

    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT") or "10 per minute"

    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "UTC"
    LANGUAGES = ("en", "pt", "ro", "ru")
    BOOTSTRAP_SERVE_LOCAL = True

    def __init__(self) -> None:
        if not self.SECRET_KEY:
            self.SECRET_KEY = _secret_key_from_instance()


class DevelopmentConfig(Config):
    pass


class TestConfig(Config):
    ENV_NAME = "test"
    TESTING = True
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    SECRET_KEY = "test-secret-key"
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = True
    SENDGRID_API_KEY = None
    INBOUND_PARSE_TOKEN = "inbound-test-token"


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True

    def __init__(self) -> None:
        missing = [name for name in ("SECRET_KEY", "DATABASE_URL") if not os.environ.get(name)]
        if missing:
            raise ConfigError(
                "CRM_ENV=production needs " + " and ".join(missing) + " set in the environment: "
                "a random SECRET_KEY keeps sessions safe, and DATABASE_URL should point at PostgreSQL."
            )
        super().__init__()


CONFIGS = {"development": DevelopmentConfig, "test": TestConfig, "production": ProductionConfig}


def load_config(env: str | None = None) -> Config:
    """The config object for CRM_ENV (development by default)."""
    name = env or os.environ.get("CRM_ENV") or "development"
    try:
        return CONFIGS[name]()
    except KeyError as exc:
        raise ConfigError(f"CRM_ENV must be one of {', '.join(CONFIGS)}, got {name!r}") from exc
