"""Index hand-offs by lead (the timeline looks them up per contact's leads)

Revision ID: 0004_handoffs_lead_index
Revises: 0003_import_jobs
Create Date: 2026-11-24 00:40:00
"""
from alembic import op

revision = "0004_handoffs_lead_index"
down_revision = "0003_import_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.create_index("ix_handoffs_lead_id", ["lead_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.drop_index("ix_handoffs_lead_id")
