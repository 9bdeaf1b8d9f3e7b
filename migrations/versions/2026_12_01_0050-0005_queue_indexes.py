"""Indexes for the lead queue: untouched leads per rep, open leads by score, due follow-ups, active enrollments, speed-to-lead

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
# What the queue reads of a rep's open leads, so PostgreSQL answers from the index alone.
COVERED = ["id", "contact_id", "claimed_by_id", "claim_expires_at", "next_action_at", "last_touch_at", "created_at"]
WAITING = "first_touch_at IS NULL AND speed_to_lead_flagged_at IS NULL AND status = 'open'"


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index("ix_leads_owner_untouched", ["owner_id", "created_at"], unique=False,
                              postgresql_where=sa.text(UNTOUCHED), sqlite_where=sa.text(UNTOUCHED))
        batch_op.create_index("ix_leads_owner_open_score", ["owner_id", "score"], unique=False,
                              postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN), postgresql_include=COVERED)
        batch_op.create_index("ix_leads_speed_to_lead_waiting", ["created_at"], unique=False,
                              postgresql_where=sa.text(WAITING), sqlite_where=sa.text(WAITING))


    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_queue_due", ["assignee_id", "due_at"], unique=False,
                              postgresql_include=["lead_id"], postgresql_where=sa.text("status = 'open'"),
                              sqlite_where=sa.text("status = 'open'"))
    with op.batch_alter_table("cadence_enrollments", schema=None) as batch_op:
        batch_op.create_index("ix_cadence_enrollments_queue_active", ["lead_id"], unique=False,
                              postgresql_include=["next_step_at", "step_position", "cadence_id"],
                              postgresql_where=sa.text("state = 'active'"), sqlite_where=sa.text("state = 'active'"))


def downgrade() -> None:
    with op.batch_alter_table("cadence_enrollments", schema=None) as batch_op:
        batch_op.drop_index("ix_cadence_enrollments_queue_active")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_queue_due")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_speed_to_lead_waiting")
        batch_op.drop_index("ix_leads_owner_open_score")
        batch_op.drop_index("ix_leads_owner_untouched")
