"""Configuration from the environment: laptop defaults, production refusals."""

from __future__ import annotations

import pytest

import config
from crm import create_app


def test_production_refuses_without_secret_and_database(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(config.ConfigError) as exc:
        config.load_config("production")
    assert "SECRET_KEY" in str(exc.value) and "DATABASE_URL" in str(exc.value)


def test_production_starts_with_both_and_secure_cookies(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://x@127.0.0.1/x")
    cfg = config.load_config("production")
    assert cfg.SESSION_COOKIE_SECURE and cfg.SESSION_COOKIE_HTTPONLY and cfg.SESSION_COOKIE_SAMESITE == "Lax"


def test_development_generates_a_secret_once(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = config.DevelopmentConfig().SECRET_KEY
    assert first and first == config.DevelopmentConfig().SECRET_KEY
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_unknown_environment_is_refused():
    with pytest.raises(config.ConfigError):
        config.load_config("staging-ish")


def test_bad_number_in_environment_is_refused(monkeypatch):
    monkeypatch.setenv("SENDGRID_WEBHOOK_MAX_AGE", "soon")
    with pytest.raises(config.ConfigError):
        config._env_int("SENDGRID_WEBHOOK_MAX_AGE", 0)


def test_defaults_run_with_nothing_set():
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["CALLING_HOURS"] == "08:00-21:00"
    assert app.config["SENDGRID_API_KEY"] is None
    assert app.config["SENDGRID_API_HOST"].startswith("https://")
