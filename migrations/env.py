"""Alembic environment: the models' metadata, batch mode for SQLite."""

from __future__ import annotations

from alembic import context
from sqlalchemy.types import TypeDecorator

from crm import models  # noqa: F401  (fills the metadata)
from crm.db import Base
from crm.schema import include_object

config = context.config
target_metadata = Base.metadata


def render_item(type_, obj, autogen_context):
    """Render our TypeDecorators as the plain type they store (no crm import in revisions)."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        impl = obj.impl
        autogen_context.imports.add("import sqlalchemy as sa")
        return f"sa.{impl.__class__.__name__}(timezone={getattr(impl, 'timezone', False)})"
    return False


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        render_item=render_item,
        compare_type=True,
        include_object=include_object,  # APScheduler owns its job table (crm/schema.py)
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from crm import create_app
    from crm.extensions import db

    app = create_app()
    with app.app_context(), db.engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
