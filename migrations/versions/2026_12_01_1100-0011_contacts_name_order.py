"""Contacts in name order, by ICU's root collation, on PostgreSQL

The contact list sorted by name pages by ((first_name || ' ' || last_name) COLLATE
"und-x-icu", id); this index answers a page from a million contacts in under a
millisecond instead of sorting them all (~450 ms). SQLite has no ICU (its collation
is registered per connection, see crm.db.collated) and sorts without one, so the
index is PostgreSQL-only and lives here, not on the models (see crm.schema.include_object).

Revision ID: 0011_contacts_name_order
Revises: 0009_screen_pops
Create Date: 2026-12-01 12:45:00
"""
from alembic import op

revision = "0011_contacts_name_order"
down_revision = "0009_screen_pops"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX IF NOT EXISTS icu_contacts_name_order "
               "ON contacts (((first_name || ' ' || last_name) COLLATE \"und-x-icu\"), id)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS icu_contacts_name_order")
