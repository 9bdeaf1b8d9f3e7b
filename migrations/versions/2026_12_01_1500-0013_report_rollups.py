"""Report rollups: per-rep hourly touch figures, rep-lead spans, and the funnel's facts on leads and stage changes

The admin's (whole organisation's) funnel and rep-activity reports aggregated every lead, stage
change and touch of the period on each request (docs/metrics.md says how they are now computed):

- activity_hours and activity_days: one rep's additive touch figures per UTC hour and day; rep_leads: per rep and lead the
  first and last touch and outbound call (distinct leads worked/called); activity_marks: a trigger on
  touches notes each change of a rep's touch (its hour and rep-lead pair), so until the
  activity_rollups job has rebuilt them the reports read those from the touches themselves;
- leads.furthest_stage, stage_changes.ended_at and stage_changes.lead_created_at, kept by triggers
  on stage_changes (and leads.created_at), so the funnel reads no stage history per request;
- ix_touches_occurred_at: one hour of every rep's touches, for the job and the period's fringes;
  ix_leads_won: the won leads, for the hand-offs' won rate (instead of a join of every lead);
  ix_handoffs_created_at: a period's hand-offs.

The upgrade fills all of them from the existing rows.

Revision ID: 0013_report_rollups
Revises: 0012_leads_claim_partial
Create Date: 2026-12-01 15:00:00
"""
# ruff: noqa: S608  (the SQL here is built from this file's constants only, never from input)
import warnings

import sqlalchemy as sa
from alembic import op

revision = "0013_report_rollups"
down_revision = "0012_leads_claim_partial"
branch_labels = None
depends_on = None

LEAD_COLUMNS = ["team_id", "owner_id", "status", "value", "source_id", "campaign_id", "first_touch_at",
                "lost_reason_id"]
STAY_COLUMNS = ["lead_id", "to_stage", "changed_at", "ended_at"]
ENDED_STAY = "to_status = 'open' AND ended_at IS NOT NULL"
STAGES = ("discover", "nurture", "propose", "close")
WON = "status = 'won'"
RANK = "CASE {c} WHEN 'discover' THEN 0 WHEN 'nurture' THEN 1 WHEN 'propose' THEN 2 ELSE 3 END"
STAGE_OF_RANK = "CASE {r} WHEN 0 THEN 'discover' WHEN 1 THEN 'nurture' WHEN 2 THEN 'propose' WHEN 3 THEN 'close' END"
# The columns whose change moves a touch's figures (the text of a touch does not count).
FIGURE_COLUMNS = "user_id, lead_id, occurred_at, channel, direction, outcome, talk_seconds, hold_seconds, wrap_seconds"


def _pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _hour(column: str) -> str:
    if _pg():
        return f"(floor(extract(epoch FROM {column}) / 3600))::bigint"
    return f"(CAST(strftime('%s', {column}) AS INTEGER) / 3600)"


def _stage_facts_sql(lead: str) -> str:
    """The furthest stage of lead ``lead``, and the end and cohort of each of its stays (portable SQL)."""
    furthest = STAGE_OF_RANK.format(r=f"(SELECT max({RANK.format(c='s.to_stage')}) FROM stage_changes s "
                                        f"WHERE s.lead_id = {lead})")
    return (
        f"UPDATE leads SET furthest_stage = {furthest} WHERE id = {lead};\n"
        "UPDATE stage_changes SET "
        "lead_created_at = (SELECT l.created_at FROM leads l WHERE l.id = stage_changes.lead_id), "
        "ended_at = (SELECT n.changed_at FROM stage_changes n WHERE n.lead_id = stage_changes.lead_id AND "
        "(n.changed_at > stage_changes.changed_at OR (n.changed_at = stage_changes.changed_at AND "
        "n.id > stage_changes.id)) ORDER BY n.changed_at, n.id LIMIT 1) "
        f"WHERE lead_id = {lead};\n")


def _mark_sql(row: str) -> str:
    return (f"INSERT INTO activity_marks (user_id, lead_id, hour) "
            f"SELECT {row}.user_id, {row}.lead_id, {_hour(f'{row}.occurred_at')} WHERE {row}.user_id IS NOT NULL;\n")


def _create_triggers() -> None:
    if _pg():
        op.execute("CREATE FUNCTION report_stage_facts(lead_key bigint) RETURNS void LANGUAGE plpgsql AS $$ BEGIN\n"
                   + _stage_facts_sql("lead_key") + "END $$")
        op.execute("CREATE FUNCTION report_stage_facts_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN\n"
                   "IF TG_OP <> 'INSERT' THEN PERFORM report_stage_facts(OLD.lead_id); END IF;\n"
                   "IF TG_OP <> 'DELETE' THEN PERFORM report_stage_facts(NEW.lead_id); END IF;\n"
                   "RETURN NULL; END $$")
        op.execute("CREATE TRIGGER stage_changes_report_facts AFTER INSERT OR DELETE OR UPDATE OF lead_id, to_stage, "
                   "changed_at ON stage_changes FOR EACH ROW EXECUTE FUNCTION report_stage_facts_trigger()")
        op.execute("CREATE FUNCTION report_lead_created_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN\n"
                   "UPDATE stage_changes SET lead_created_at = NEW.created_at WHERE lead_id = NEW.id;\n"
                   "RETURN NULL; END $$")
        op.execute("CREATE TRIGGER leads_report_created AFTER UPDATE OF created_at ON leads "
                   "FOR EACH ROW EXECUTE FUNCTION report_lead_created_trigger()")
        op.execute("CREATE FUNCTION report_activity_mark_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN\n"
                   "IF TG_OP <> 'INSERT' THEN " + _mark_sql("OLD") + " END IF;\n"
                   "IF TG_OP <> 'DELETE' THEN " + _mark_sql("NEW") + " END IF;\n"
                   "RETURN NULL; END $$")
        op.execute(f"CREATE TRIGGER touches_activity_mark AFTER INSERT OR DELETE OR UPDATE OF {FIGURE_COLUMNS} "
                   "ON touches FOR EACH ROW EXECUTE FUNCTION report_activity_mark_trigger()")
        return
    op.execute("CREATE TRIGGER stage_changes_report_facts_insert AFTER INSERT ON stage_changes BEGIN\n"
               + _stage_facts_sql("NEW.lead_id") + "END")
    op.execute("CREATE TRIGGER stage_changes_report_facts_update AFTER UPDATE OF lead_id, to_stage, changed_at "
               "ON stage_changes BEGIN\n" + _stage_facts_sql("OLD.lead_id") + _stage_facts_sql("NEW.lead_id") + "END")
    op.execute("CREATE TRIGGER stage_changes_report_facts_delete AFTER DELETE ON stage_changes BEGIN\n"
               + _stage_facts_sql("OLD.lead_id") + "END")
    op.execute("CREATE TRIGGER leads_report_created AFTER UPDATE OF created_at ON leads BEGIN\n"
               "UPDATE stage_changes SET lead_created_at = NEW.created_at WHERE lead_id = NEW.id;\nEND")
    op.execute("CREATE TRIGGER touches_activity_mark_insert AFTER INSERT ON touches BEGIN\n" + _mark_sql("NEW") + "END")
    op.execute(f"CREATE TRIGGER touches_activity_mark_update AFTER UPDATE OF {FIGURE_COLUMNS} ON touches BEGIN\n"
               + _mark_sql("OLD") + _mark_sql("NEW") + "END")
    op.execute("CREATE TRIGGER touches_activity_mark_delete AFTER DELETE ON touches BEGIN\n" + _mark_sql("OLD") + "END")


def _drop_triggers() -> None:
    if _pg():
        op.execute("DROP TRIGGER touches_activity_mark ON touches")
        op.execute("DROP TRIGGER leads_report_created ON leads")
        op.execute("DROP TRIGGER stage_changes_report_facts ON stage_changes")
        for name in ("report_activity_mark_trigger()", "report_lead_created_trigger()",
                     "report_stage_facts_trigger()", "report_stage_facts(bigint)"):
            op.execute(f"DROP FUNCTION {name}")
        return
    for name in ("touches_activity_mark_insert", "touches_activity_mark_update", "touches_activity_mark_delete",
                 "leads_report_created", "stage_changes_report_facts_insert", "stage_changes_report_facts_update",
                 "stage_changes_report_facts_delete"):
        op.execute(f"DROP TRIGGER {name}")


def _backfill() -> None:
    outbound_call = "channel = 'call' AND direction = 'outbound'"
    completed = "channel = 'call' AND outcome = 'connected'"
    op.execute(
        "INSERT INTO activity_hours (hour, user_id, touches, outbound_calls, connects, completed_calls, talk_seconds, "
        "handle_seconds, emails, chats, social) "
        f"SELECT {_hour('occurred_at')}, user_id, count(*), "
        f"sum(CASE WHEN {outbound_call} THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN {outbound_call} AND outcome = 'connected' THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN {completed} THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN {completed} THEN talk_seconds ELSE 0 END), "
        f"sum(CASE WHEN {completed} THEN talk_seconds + hold_seconds + wrap_seconds ELSE 0 END), "
        "sum(CASE WHEN channel = 'email' AND direction = 'outbound' THEN 1 ELSE 0 END), "
        "sum(CASE WHEN channel = 'chat' AND direction = 'outbound' THEN 1 ELSE 0 END), "
        "sum(CASE WHEN channel = 'social' AND direction = 'outbound' THEN 1 ELSE 0 END) "
        f"FROM touches WHERE user_id IS NOT NULL GROUP BY {_hour('occurred_at')}, user_id")
    op.execute(
        "INSERT INTO activity_days (day, user_id, touches, outbound_calls, connects, completed_calls, talk_seconds, "
        "handle_seconds, emails, chats, social) SELECT hour / 24, user_id, sum(touches), sum(outbound_calls), "
        "sum(connects), sum(completed_calls), sum(talk_seconds), sum(handle_seconds), sum(emails), sum(chats), "
        "sum(social) FROM activity_hours GROUP BY hour / 24, user_id")
    op.execute(
        "INSERT INTO rep_leads (user_id, lead_id, first_at, last_at, first_call_at, last_call_at) "
        "SELECT user_id, lead_id, min(occurred_at), max(occurred_at), "
        f"min(CASE WHEN {outbound_call} THEN occurred_at END), max(CASE WHEN {outbound_call} THEN occurred_at END) "
        "FROM touches WHERE user_id IS NOT NULL AND lead_id IS NOT NULL GROUP BY user_id, lead_id")
    op.execute(
        f"UPDATE leads SET furthest_stage = {STAGE_OF_RANK.format(r='f.r')} FROM ("
        f"SELECT lead_id, max({RANK.format(c='to_stage')}) AS r FROM stage_changes GROUP BY lead_id) f "
        "WHERE f.lead_id = leads.id")
    op.execute(
        "UPDATE stage_changes SET ended_at = x.next_at, lead_created_at = x.created_at FROM ("
        "SELECT s.id, lead(s.changed_at) OVER (PARTITION BY s.lead_id ORDER BY s.changed_at, s.id) AS next_at, "
        "l.created_at FROM stage_changes s JOIN leads l ON l.id = s.lead_id) x WHERE x.id = stage_changes.id")


def upgrade() -> None:
    op.create_table(
        "activity_hours",
        sa.Column("hour", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in (
            "touches", "outbound_calls", "connects", "completed_calls")),
        sa.Column("talk_seconds", sa.BigInteger(), nullable=False),
        sa.Column("handle_seconds", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in ("emails", "chats", "social")),
        sa.PrimaryKeyConstraint("hour", "user_id", name=op.f("pk_activity_hours")),
    )
    op.create_index("ix_activity_hours_user_hour", "activity_hours", ["user_id", "hour"], unique=False)
    op.create_table(
        "activity_days",
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in (
            "touches", "outbound_calls", "connects", "completed_calls")),
        sa.Column("talk_seconds", sa.BigInteger(), nullable=False),
        sa.Column("handle_seconds", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in ("emails", "chats", "social")),
        sa.PrimaryKeyConstraint("day", "user_id", name=op.f("pk_activity_days")),
    )
    op.create_index("ix_activity_days_user_day", "activity_days", ["user_id", "day"], unique=False)
    op.create_table(
        "rep_leads",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("lead_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_call_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_call_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("lead_id", "user_id", name=op.f("pk_rep_leads")),
    )
    op.create_index("ix_rep_leads_last_at", "rep_leads", ["last_at"], unique=False,
                    postgresql_include=["user_id", "lead_id", "first_at", "first_call_at", "last_call_at"])
    op.create_index("ix_rep_leads_user_last_at", "rep_leads", ["user_id", "last_at"], unique=False,
                    postgresql_include=["lead_id", "first_at", "first_call_at", "last_call_at"])
    op.create_table(
        "activity_marks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_marks")),
    )
    op.create_index("ix_activity_marks_hour", "activity_marks", ["hour"], unique=False)
    with warnings.catch_warnings():  # SQLite rebuilds the table for the CHECK, reflecting contacts' lower() index
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        with op.batch_alter_table("leads", schema=None) as batch_op:
            batch_op.add_column(sa.Column("furthest_stage", sa.Enum(*STAGES, name="furthest_stage", native_enum=False,
                                                                    create_constraint=True, length=8), nullable=True))
    op.add_column("stage_changes", sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("stage_changes", sa.Column("lead_created_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_touches_occurred_at", "touches", ["occurred_at"], unique=False)
    op.create_index("ix_leads_won", "leads", ["id"], unique=False, postgresql_where=sa.text(WON),
                    sqlite_where=sa.text(WON))
    op.create_index("ix_handoffs_created_at", "handoffs", ["created_at"], unique=False,
                    postgresql_include=["from_user_id", "status", "lead_id", "submitted_at", "decided_at"])
    _backfill()
    op.create_index("ix_stage_changes_ended_stays", "stage_changes", ["lead_created_at"], unique=False,
                    postgresql_include=STAY_COLUMNS, postgresql_where=sa.text(ENDED_STAY),
                    sqlite_where=sa.text(ENDED_STAY))
    if _pg():  # the covering lead indexes carry the furthest stage too (SQLite has no INCLUDE)
        for name, columns in (("ix_leads_created_at", ["created_at"]), ("ix_leads_team_created_at", ["team_id", "created_at"])):
            op.drop_index(name, table_name="leads")
            op.create_index(name, "leads", columns, unique=False, postgresql_include=[*LEAD_COLUMNS, "furthest_stage"])
    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    if _pg():
        for name, columns in (("ix_leads_created_at", ["created_at"]), ("ix_leads_team_created_at", ["team_id", "created_at"])):
            op.drop_index(name, table_name="leads")
            op.create_index(name, "leads", columns, unique=False, postgresql_include=LEAD_COLUMNS)
    op.drop_index("ix_stage_changes_ended_stays", table_name="stage_changes")
    op.drop_index("ix_touches_occurred_at", table_name="touches")
    op.drop_index("ix_leads_won", table_name="leads")
    op.drop_index("ix_handoffs_created_at", table_name="handoffs")
    with op.batch_alter_table("stage_changes", schema=None) as batch_op:
        batch_op.drop_column("lead_created_at")
        batch_op.drop_column("ended_at")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        with op.batch_alter_table("leads", schema=None) as batch_op:
            batch_op.drop_constraint(op.f("ck_leads_furthest_stage"), type_="check")
            batch_op.drop_column("furthest_stage")
    op.drop_index("ix_activity_marks_hour", table_name="activity_marks")
    op.drop_table("activity_marks")
    op.drop_index("ix_rep_leads_user_last_at", table_name="rep_leads")
    op.drop_index("ix_rep_leads_last_at", table_name="rep_leads")
    op.drop_table("rep_leads")
    op.drop_index("ix_activity_days_user_day", table_name="activity_days")
    op.drop_table("activity_days")
    op.drop_index("ix_activity_hours_user_hour", table_name="activity_hours")
    op.drop_table("activity_hours")
