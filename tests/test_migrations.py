"""The migrations build the schema the models describe, on every database."""

from __future__ import annotations

import warnings

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from crm.db import Base
from crm.schema import SCHEDULER_TABLE, alembic_config, include_object


def test_single_head():
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"migrations have several heads: {heads}; merge them"


def _diff(connection) -> list:
    with warnings.catch_warnings():
        # SQLite cannot reflect expression indexes (lower(...)); PostgreSQL compares them.
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": include_object})
        return compare_metadata(context, Base.metadata)


def test_upgrade_to_head_matches_models(database):
    with database.engine.connect() as connection:
        diff = _diff(connection)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_scheduler_job_table_is_left_to_apscheduler(database):
    """The scheduler creates APScheduler's table on start; the comparison must not trip over it."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    with database.engine.connect() as connection:
        transaction = connection.begin()
        try:
            SQLAlchemyJobStore(engine=database.engine, tablename=SCHEDULER_TABLE).jobs_t.create(connection)
            assert SCHEDULER_TABLE in sa.inspect(connection).get_table_names()
            diff = _diff(connection)
        finally:
            transaction.rollback()
    assert diff == [], f"the scheduler's table leaks into the comparison: {diff}"


def test_head_is_applied(database):
    with database.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    assert set(current) == set(ScriptDirectory.from_config(alembic_config()).get_heads())


def test_trigram_indexes_exist_on_postgresql(database):
    if database.kind != "postgresql":
        return
    with database.engine.connect() as connection:
        names = set(connection.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'trgm_%%'").scalars())
    assert names == {"trgm_accounts_name"}  # the contacts' became keyed ones in 0018 (phone: none needed since 0017)
    with database.engine.connect() as connection:
        keyed = set(connection.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'keys_%%'").scalars())
    assert keyed == {"keys_contacts_search_name", "keys_contacts_email"}
    with database.engine.connect() as connection:
        options = connection.exec_driver_sql(
            "SELECT reloptions FROM pg_class WHERE relname IN ('keys_contacts_search_name', 'keys_contacts_email')").scalars()
        assert all(o == ["gin_pending_list_limit=256"] for o in options)  # searches read a short pending list
    with database.engine.connect() as connection:
        reversed_phone = connection.exec_driver_sql(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'rev_contacts_phone'").scalar()
    assert "reverse((phone)::text) text_pattern_ops" in reversed_phone
