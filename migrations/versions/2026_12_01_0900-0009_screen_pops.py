"""Screen pops: answered calls shown to the rep who took them

Revision ID: 0009_screen_pops
Revises: 0008_report_indexes
Create Date: 2026-12-01 12:30:00
"""
from alembic import op
import sqlalchemy as sa

revision = "0009_screen_pops"
down_revision = "0008_report_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "screen_pops",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("touch_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["touch_id"], ["touches.id"], name=op.f("fk_screen_pops_touch_id_touches"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_screen_pops_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screen_pops")),
        sa.UniqueConstraint("touch_id", name=op.f("uq_screen_pops_touch_id")),
    )
    with op.batch_alter_table("screen_pops", schema=None) as batch_op:
        batch_op.create_index("ix_screen_pops_user_id_id", ["user_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("screen_pops", schema=None) as batch_op:
        batch_op.drop_index("ix_screen_pops_user_id_id")
    op.drop_table("screen_pops")
