"""Alembic, driven from Python: `crm migrate`, the tests and the benchmarks use it."""

from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import Connection, Engine

from crm import ROOT


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


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Leave PostgreSQL-only trigram indexes (made in migrations, not models) out of comparisons."""
    return not (type_ == "index" and reflected and name and name.startswith("trgm_"))
