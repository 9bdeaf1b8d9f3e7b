"""Touchline: the app factory. Config, extensions, blueprints, CLI — nothing else."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from flask import Flask

from config import INSTANCE_DIR, load_config

ROOT = Path(__file__).resolve().parent.parent

# Feature packages. Each may have views.py (a `bp` blueprint for pages),
# api.py (routes on the /api/v1 blueprint), webhooks.py (a `bp`) and cli.py
# (commands on the `crm` group); create_app wires in whichever exist.
FEATURES = (
    "auth", "dashboard", "contacts", "leads", "touches", "tasks", "queue", "cadences", "handoffs",
    "email", "reports", "integrations", "scheduler", "admin", "audit", "demo", "imports",
)


def create_app(config: object | dict | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        instance_path=str(INSTANCE_DIR),
        instance_relative_config=False,
    )
    app.config.from_object(load_config("test" if isinstance(config, dict) and config.get("TESTING") else None))
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)

    from crm import models  # noqa: F401  (the whole metadata, before anything queries)
    from crm.extensions import babel, bootstrap, csrf, db, limiter, login_manager
    from crm.i18n import select_locale, select_timezone

    db.init_app(app)
    with app.app_context():
        from crm.db import ping_when_idle

        for engine in db.engines.values():
            ping_when_idle(engine, app.config["DATABASE_PING_AFTER_IDLE_SECONDS"])
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    bootstrap.init_app(app)
    limiter.init_app(app)

    from crm import web
    from crm.api import api_bp
    from crm.cli import crm_cli

    web.init_app(app)
    for feature in FEATURES:
        for part in ("views", "webhooks"):
            module = _feature_module(feature, part)
            if module is not None and hasattr(module, "bp"):
                app.register_blueprint(module.bp)
        _feature_module(feature, "api")
        _feature_module(feature, "cli")
    app.register_blueprint(api_bp)
    app.cli.add_command(crm_cli)
    return app


def _feature_module(feature: str, part: str):
    name = f"crm.{feature}.{part}"
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)
