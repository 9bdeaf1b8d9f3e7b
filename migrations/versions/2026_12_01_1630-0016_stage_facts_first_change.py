"""A lead's first stage change sets its funnel facts without recomputing the lead's history

Migration 0013's trigger recomputed, for every stage change written, the lead's furthest stage and
the end and cohort of every stay of the lead: two UPDATEs per row, one of them rewriting the lead
row with all its index entries. For a new lead's first stage change (every lead created, every
imported row) the answer is known without looking: the furthest stage is that stage, the stay has
not ended, its cohort is the lead's creation time. On PostgreSQL that case now writes only what
differs (nothing, when the writer set them already, as the CSV import and create_lead do); the CSV
import had fallen from ~6,000 to ~900 rows/s. Any other insert, update or delete still recomputes
the lead. SQLite keeps 0013's triggers (same results, no speed target there).

The trigger functions also plan their statements once per connection (generic plans): they are
small statements on keys, and a session that asks for custom plans (the reports and the work list
do, with SET LOCAL) would otherwise plan them again for every row written.

Revision ID: 0016_stage_facts_first_change
Revises: 0015_contacts_search_name
Create Date: 2026-12-01 16:30:00
"""
from alembic import op

revision = "0016_stage_facts_first_change"
down_revision = "0015_contacts_search_name"
branch_labels = None
depends_on = None

FIRST_CHANGE = """CREATE OR REPLACE FUNCTION report_stage_facts_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
IF TG_OP = 'INSERT' AND NOT EXISTS (SELECT 1 FROM stage_changes s WHERE s.lead_id = NEW.lead_id AND s.id <> NEW.id) THEN
  UPDATE leads SET furthest_stage = NEW.to_stage
   WHERE id = NEW.lead_id AND furthest_stage IS DISTINCT FROM NEW.to_stage;
  UPDATE stage_changes SET lead_created_at = l.created_at, ended_at = NULL FROM leads l
   WHERE stage_changes.id = NEW.id AND l.id = NEW.lead_id
     AND (stage_changes.lead_created_at IS DISTINCT FROM l.created_at OR stage_changes.ended_at IS NOT NULL);
  RETURN NULL;
END IF;
IF TG_OP <> 'INSERT' THEN PERFORM report_stage_facts(OLD.lead_id); END IF;
IF TG_OP <> 'DELETE' THEN PERFORM report_stage_facts(NEW.lead_id); END IF;
RETURN NULL; END $$"""

EVERY_CHANGE = """CREATE OR REPLACE FUNCTION report_stage_facts_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
IF TG_OP <> 'INSERT' THEN PERFORM report_stage_facts(OLD.lead_id); END IF;
IF TG_OP <> 'DELETE' THEN PERFORM report_stage_facts(NEW.lead_id); END IF;
RETURN NULL; END $$"""


FUNCTIONS = ("report_stage_facts(bigint)", "report_stage_facts_trigger()", "report_lead_created_trigger()",
             "report_activity_mark_trigger()")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FIRST_CHANGE)
        for function in FUNCTIONS:
            op.execute(f"ALTER FUNCTION {function} SET plan_cache_mode = force_generic_plan")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for function in FUNCTIONS:
            op.execute(f"ALTER FUNCTION {function} RESET plan_cache_mode")
        op.execute(EVERY_CHANGE)
