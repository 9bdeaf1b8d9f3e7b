"""Contacts' names folded for accent- and case-insensitive search

contacts.search_name holds "first last" without case or accents (crm.contacts.folding:
"João Brăescu" → "joao braescu", "Ёлкин" → "елкин"); search folds the query the same way.
Neither database folds like that by itself, so the key is computed in Python: here for
the existing rows, in batches of BATCH by id, and by the model on every write after.
On PostgreSQL the name's trigram index moves from lower(first_name || ' ' || last_name)
to the key, built after the backfill rather than updated row by row during it.

The backfill rewrites every row, and keeping the contacts' other indexes (two of them
trigram GINs) up to date row by row was most of its cost: on PostgreSQL they are set
aside for it and rebuilt from their own definitions after. Measured on 200,000 of a
million contacts, the UPDATEs took 46-66 s with the indexes and 11-17 s without, and
rebuilding them all takes 45-80 s; the whole migration ran in ~2 minutes on a
1,036,000-contact copy of the bench database (folding the names is ~12 s of Python).
The ALTER TABLE keeps the contacts table locked until the migration commits: run it
when nobody works.

Revision ID: 0015_contacts_search_name
Revises: 0013_report_rollups
Create Date: 2026-12-01 15:00:00
"""
import sqlalchemy as sa
from alembic import op

from crm.contacts.folding import name_key

revision = "0015_contacts_search_name"
down_revision = "0013_report_rollups"
branch_labels = None
depends_on = None

BATCH = 20000
OLD_INDEX = ("trgm_contacts_name",
             "contacts USING gin (lower(first_name || ' ' || last_name) gin_trgm_ops)")
NEW_INDEX = ("trgm_contacts_search_name", "contacts USING gin (search_name gin_trgm_ops)")


def _backfill(bind) -> None:
    postgresql = bind.dialect.name == "postgresql"
    last_id = 0
    while True:
        rows = bind.execute(sa.text("SELECT id, first_name, last_name FROM contacts WHERE id > :last "
                                    "ORDER BY id LIMIT :n"), {"last": last_id, "n": BATCH}).all()
        if not rows:
            return
        keys = [(row.id, name_key(row.first_name, row.last_name)) for row in rows]
        if postgresql:
            bind.execute(sa.text(
                "UPDATE contacts SET search_name = v.key FROM "
                "(SELECT unnest(CAST(:ids AS bigint[])) AS id, unnest(CAST(:keys AS text[])) AS key) v "
                "WHERE contacts.id = v.id"), {"ids": [k[0] for k in keys], "keys": [k[1] for k in keys]})
        else:
            bind.execute(sa.text("UPDATE contacts SET search_name = :key WHERE id = :id"),
                         [{"id": i, "key": key} for i, key in keys])
        last_id = rows[-1].id


def _set_aside_indexes(bind) -> list[str]:
    """Drop the contacts' indexes but the primary key's; their CREATE statements, to run again after."""
    rows = bind.execute(sa.text(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
        "AND i.tablename = 'contacts' AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
    )).all()
    for name, _definition in rows:
        op.execute(f'DROP INDEX "{name}"')
    return [definition for _name, definition in rows]


def upgrade() -> None:
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    if postgresql:
        op.execute(f"DROP INDEX IF EXISTS {OLD_INDEX[0]}")
        set_aside = _set_aside_indexes(bind)
        op.add_column("contacts", sa.Column("search_name", sa.String(length=400), nullable=True))
        _backfill(bind)
        op.alter_column("contacts", "search_name", existing_type=sa.String(length=400), nullable=False)
        for definition in set_aside:
            op.execute(definition)
        op.execute(f"CREATE INDEX IF NOT EXISTS {NEW_INDEX[0]} ON {NEW_INDEX[1]}")
        return
    # SQLite cannot make a column NOT NULL after the fact without rebuilding the table (and
    # a rebuild would lose the expression indexes it cannot reflect), but it can add one
    # NOT NULL with a default; the backfill then replaces every default.
    op.add_column("contacts", sa.Column("search_name", sa.String(length=400), nullable=False, server_default=""))
    _backfill(bind)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {NEW_INDEX[0]}")
        op.execute(f"CREATE INDEX IF NOT EXISTS {OLD_INDEX[0]} ON {OLD_INDEX[1]}")
    op.drop_column("contacts", "search_name")  # SQLite drops a column in place since 3.35
