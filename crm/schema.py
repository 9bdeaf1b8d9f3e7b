"""Alembic, driven from Python: `crm migrate`, the tests and the benchmarks use it."""

from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import Connection, Engine

from crm import ROOT

# APScheduler's job store table. APScheduler creates it (and owns its shape) when
# the scheduler starts; it holds only the schedule, rebuilt from jobs/ on every
# start, so the migrations leave it out and comparisons ignore it.
SCHEDULER_TABLE = "apscheduler_jobs"
ACCESS_KEYS = "access_keys"  # contacts' column, PostgreSQL only (crm.access.contact_search_keys)


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's filter: everything but the scheduler's own table (and its index), and the
    PostgreSQL-only trigram, ICU-collated, reversed-text and access-key indexes and the contacts' access keys
    (kept by triggers, migration 0018) made in migrations rather than on the models."""
    if type_ == "index" and reflected and name and name.startswith(("trgm_", "icu_", "rev_", "keys_")):
        return False
    if type_ == "column" and reflected and name == ACCESS_KEYS and getattr(obj.table, "name", None) == "contacts":
        return False
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return getattr(table, "name", name) != SCHEDULER_TABLE


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    cfg = AlembicConfig(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision``."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)

