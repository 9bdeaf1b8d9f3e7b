"""Indexes for the lead queue: untouched leads per rep, open leads by score, speed-to-lead's wait list

Revision ID: 0005_queue_indexes
Revises: 0004_handoffs_lead_index
Create Date: 2026-12-01 00:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_queue_indexes"
down_revision = "0004_handoffs_lead_index"
branch_labels = None
depends_on = None

UNTOUCHED = "first_touch_at IS NULL AND status = 'open'"
OPEN = "status = 'open'"
WAITING = "first_touch_at IS NULL AND speed_to_lead_flagged_at IS NULL AND status = 'open'"


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index("ix_leads_owner_untouched", ["owner_id", "created_at"], unique=False,
                              postgresql_where=sa.text(UNTOUCHED), sqlite_where=sa.text(UNTOUCHED))
        batch_op.create_index("ix_leads_owner_open_score", ["owner_id", "score"], unique=False,
                              postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
        batch_op.create_index("ix_leads_speed_to_lead_waiting", ["created_at"], unique=False,
                              postgresql_where=sa.text(WAITING), sqlite_where=sa.text(WAITING))


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_speed_to_lead_waiting")
        batch_op.drop_index("ix_leads_owner_open_score")
        batch_op.drop_index("ix_leads_owner_untouched")
