"""Indexes for the reports: leads by team and creation time; covering columns on PostgreSQL

The funnel and rep-activity queries read leads, stage changes and touches by time;
on PostgreSQL the indexes carry the columns those queries aggregate (INCLUDE), so they
are answered by index-only scans instead of reading the tables (docs/reports.md).

Revision ID: 0008_report_indexes
Revises: 0005_queue_indexes
Create Date: 2026-12-01 08:00:00
"""
from alembic import op

revision = "0008_report_indexes"
down_revision = "0005_queue_indexes"
branch_labels = None
depends_on = None

LEAD_COLUMNS = ["team_id", "owner_id", "status", "value", "source_id", "campaign_id", "first_touch_at",
                "lost_reason_id"]
TOUCH_USER_COLUMNS = ["channel", "direction", "outcome", "lead_id", "campaign_id", "talk_seconds", "hold_seconds",
                      "wrap_seconds"]
TOUCH_CHANNEL_COLUMNS = ["outcome", "user_id", "lead_id", "campaign_id", "queue_seconds", "talk_seconds",
                         "hold_seconds", "wrap_seconds", "answered_at"]
# (table, index, key columns, included columns on PostgreSQL)
COVERING = [
    ("leads", "ix_leads_created_at", ["created_at"], LEAD_COLUMNS),
    ("stage_changes", "ix_stage_changes_lead_changed_at", ["lead_id", "changed_at"], ["to_stage", "to_status"]),
    ("touches", "ix_touches_user_occurred_at", ["user_id", "occurred_at"], TOUCH_USER_COLUMNS),
    ("touches", "ix_touches_channel_occurred_at", ["channel", "direction", "occurred_at"], TOUCH_CHANNEL_COLUMNS),
]


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index("ix_leads_team_created_at", ["team_id", "created_at"], unique=False,
                              postgresql_include=LEAD_COLUMNS)
    if _is_postgresql():  # SQLite has no INCLUDE: its indexes stay as they are
        for table, name, columns, include in COVERING:
            op.drop_index(name, table_name=table)
            op.create_index(name, table, columns, unique=False, postgresql_include=include)


def downgrade() -> None:
    if _is_postgresql():
        for table, name, columns, _include in COVERING:
            op.drop_index(name, table_name=table)
            op.create_index(name, table, columns, unique=False)
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_team_created_at")
