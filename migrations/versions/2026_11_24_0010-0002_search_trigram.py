"""Trigram indexes for contact search on PostgreSQL

Substring search over names, emails, phones and companies (ILIKE '%…%') uses
these GIN indexes; SQLite has no equivalent and scans. They are PostgreSQL-only,
so they live here rather than on the models (see crm.schema.include_object).

Revision ID: 0002_search_trigram
Revises: 0001_domain_schema
Create Date: 2026-11-24 00:10:00
"""
from alembic import op

revision = "0002_search_trigram"
down_revision = "0001_domain_schema"
branch_labels = None
depends_on = None

INDEXES = {
    "trgm_contacts_name": "contacts USING gin (lower(first_name || ' ' || last_name) gin_trgm_ops)",
    "trgm_contacts_email": "contacts USING gin (lower(email) gin_trgm_ops)",
    "trgm_contacts_phone": "contacts USING gin (phone gin_trgm_ops)",
    "trgm_accounts_name": "accounts USING gin (lower(name) gin_trgm_ops)",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
