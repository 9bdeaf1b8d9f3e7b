"""The leads' claim index holds only the leads someone is holding

ix_leads_claim (claimed_by_id, claim_expires_at) answers "the leads this rep holds" (a
claim lets go of them first) and the users foreign key. Almost every lead is held by
nobody, so the index now keeps only held leads: a few rows instead of one per lead, and a
lead let go (claim, log, release) writes no entry into it.

Revision ID: 0012_leads_claim_partial
Revises: 0011_contacts_name_order
Create Date: 2026-12-01 14:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0012_leads_claim_partial"
down_revision = "0011_contacts_name_order"
branch_labels = None
depends_on = None

HELD = "claimed_by_id IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_claim")
        batch_op.create_index("ix_leads_claim", ["claimed_by_id", "claim_expires_at"], unique=False,
                              postgresql_where=sa.text(HELD), sqlite_where=sa.text(HELD))


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_claim")
        batch_op.create_index("ix_leads_claim", ["claimed_by_id", "claim_expires_at"], unique=False)
