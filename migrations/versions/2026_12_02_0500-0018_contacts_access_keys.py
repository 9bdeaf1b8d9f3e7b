"""Contacts carry who may find them, so a rep's search reads only their own matches (PostgreSQL)

A rep may see about one contact in two hundred. Searching for a common name ("António Silva", ~3,000
people at a million contacts) found every match through the trigram index, then looked up each one's
lead to find the few that were the rep's: ~3,000 index probes and heap reads for 18 results, ~30 ms,
two thirds of PostgreSQL's share of the mixed rep workload.

``contacts.access_keys`` lists the keys under which a contact may be seen by a rep: ``o:<user id>``
for the owner of each of its leads, ``p:<team id>`` (``p:`` for no team) for each of its leads waiting
in a team's unassigned pool (no owner, open), and, for a contact with no lead, ``c:<team id>`` (``c:``)
for its own team. Multicolumn GIN indexes on (keys, trigrams) answer "these words, and one of these
keys" from the index in one pass (crm.access.contact_search_keys; crm.contacts.search). The keys only
narrow a search: the exact rule (crm.access.contact_visibility) is still applied to what they find.

Triggers keep the keys: a lead inserted, deleted, or moved to another contact, owner, or (while it
has no owner) status or team recomputes its contacts' keys, under a row lock on the contact so two
transactions changing leads of one contact cannot leave it with either one's partial view; a contact
inserted, or moved to another team, computes its own, unless its writer gives the keys of the lead it
inserts with it (the importer: a second write of every new contact cost imports ~16 %). ``contact_access_keys(id, team_id)`` is the one
definition, which the triggers, this backfill and bench/generate.py call.

Keys may hold more than they need, never less. A rep taking a lead from their team's (or the
team-less) pool leaves the contact's ``p:`` key, which that rep's own keys include, instead of
rewriting the contact: rewriting it updated every one of its dozen indexes and cost a claim from the
pool 1.2-1.5 ms more of PostgreSQL (20 claimants: 226 → 188 claims/s). Other reps of the team still
find the contact by that key and the exact rule turns them away. A rep moved to another team no
longer holds the old team's key, so the move refreshes the contacts of their leads that lack ``o:<id>``.

The keyed indexes replace the plain trigram ones on the name and the email: a multicolumn GIN index
serves a condition on any of its columns alike, so a manager's or an admin's search (no keys) reads
the same index. The phone's trigram index goes too: since 0017 no query reads it (phone search is
an equality and a range on the reversed number). A contact's row now has ten indexes to keep, not
twelve: the second write of a contact that its first lead causes costs less, and so does every other.

PostgreSQL-only, like the trigram indexes (SQLite keeps its LIKE scan and the exact rule alone), so
the column, functions, triggers and indexes live here rather than on the models (crm.schema).

Revision ID: 0018_contacts_access_keys
Revises: 0017_contacts_phone_reversed
Create Date: 2026-12-02 05:00:00
"""
from alembic import op

revision = "0018_contacts_access_keys"
down_revision = "0017_contacts_phone_reversed"
branch_labels = None
depends_on = None

KEYS_FUNCTION = """
CREATE FUNCTION contact_access_keys(contact integer, contact_team integer) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM leads WHERE contact_id = contact)
                THEN ARRAY['c:' || coalesce(contact_team::text, '')]
                ELSE ARRAY(SELECT DISTINCT CASE WHEN owner_id IS NOT NULL THEN 'o:' || owner_id
                                                ELSE 'p:' || coalesce(team_id::text, '') END
                           FROM leads WHERE contact_id = contact AND (owner_id IS NOT NULL OR status = 'open')
                           ORDER BY 1)
           END
$$
"""

REFRESH_FUNCTION = """
CREATE FUNCTION refresh_contact_access_keys(contact_ids integer[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- The locks make a second transaction changing leads of these contacts wait here, then compute from
    -- what the first committed (each statement of a function reads a fresh snapshot); in id order, so two
    -- batches lock their common contacts in the same order.
    PERFORM 1 FROM contacts WHERE id = ANY (contact_ids) ORDER BY id FOR NO KEY UPDATE;
    UPDATE contacts SET access_keys = fresh.keys
    FROM (SELECT id, contact_access_keys(id, team_id) AS keys FROM contacts WHERE id = ANY (contact_ids)) AS fresh
    WHERE contacts.id = fresh.id AND contacts.access_keys IS DISTINCT FROM fresh.keys;
END
$$
"""

# Inserts and deletes per statement (an import's COPY of 1,000 leads is two statements here, not 3,000):
# both triggers name their transition table "changed".
LEADS_ROWS_TRIGGER_FUNCTION = """
CREATE FUNCTION leads_rows_access_keys_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM refresh_contact_access_keys(ARRAY(SELECT DISTINCT contact_id FROM changed));
    RETURN NULL;
END
$$
"""

LEADS_CHANGE_TRIGGER_FUNCTION = """
CREATE FUNCTION leads_change_access_keys_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Taken from the pool by someone whose keys hold its pool key (p:<its team> or p:): nothing to add.
    IF NEW.contact_id = OLD.contact_id AND OLD.owner_id IS NULL AND OLD.status = 'open' AND NEW.owner_id IS NOT NULL
            AND (OLD.team_id IS NULL OR OLD.team_id = (SELECT team_id FROM users WHERE id = NEW.owner_id)) THEN
        RETURN NULL;
    END IF;
    PERFORM refresh_contact_access_keys(ARRAY[OLD.contact_id, NEW.contact_id]);
    RETURN NULL;
END
$$
"""

CONTACTS_TRIGGER_FUNCTION = """
CREATE FUNCTION contacts_access_keys_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A writer inserting a person with their first lead may give the keys that lead will give (the importer:
    -- one write of the contact, not two). The lead's insert checks them and rewrites them if wrong, so only
    -- a writer that inserts the lead in the same transaction may give them.
    IF TG_OP = 'INSERT' AND NEW.access_keys IS NOT NULL THEN
        RETURN NEW;
    END IF;
    NEW.access_keys := contact_access_keys(NEW.id, NEW.team_id);
    RETURN NEW;
END
$$
"""

USERS_TRIGGER_FUNCTION = """
CREATE FUNCTION users_access_keys_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Contacts the user found by a pool key of their old team now need their own o:<id>.
    PERFORM refresh_contact_access_keys(ARRAY(SELECT c.id FROM leads l JOIN contacts c ON c.id = l.contact_id
        WHERE l.owner_id = NEW.id AND NOT c.access_keys @> ARRAY['o:' || NEW.id]));
    RETURN NULL;
END
$$
"""

TRIGGERS = [
    "CREATE TRIGGER leads_access_keys_insert AFTER INSERT ON leads REFERENCING NEW TABLE AS changed "
    "FOR EACH STATEMENT EXECUTE FUNCTION leads_rows_access_keys_trigger()",
    "CREATE TRIGGER leads_access_keys_delete AFTER DELETE ON leads REFERENCING OLD TABLE AS changed "
    "FOR EACH STATEMENT EXECUTE FUNCTION leads_rows_access_keys_trigger()",
    # Status and team matter only while the lead has no owner (the pool): logging a call on an owned
    # lead, or closing it, does not touch its contact.
    "CREATE TRIGGER leads_access_keys_change AFTER UPDATE OF contact_id, owner_id, status, team_id ON leads "
    "FOR EACH ROW WHEN (OLD.contact_id IS DISTINCT FROM NEW.contact_id OR OLD.owner_id IS DISTINCT FROM NEW.owner_id"
    " OR (NEW.owner_id IS NULL AND (OLD.status IS DISTINCT FROM NEW.status OR OLD.team_id IS DISTINCT FROM NEW.team_id)))"
    " EXECUTE FUNCTION leads_change_access_keys_trigger()",
    "CREATE TRIGGER contacts_access_keys BEFORE INSERT OR UPDATE OF team_id ON contacts FOR EACH ROW "
    "EXECUTE FUNCTION contacts_access_keys_trigger()",
    "CREATE TRIGGER users_access_keys AFTER UPDATE OF team_id ON users FOR EACH ROW "
    "WHEN (OLD.team_id IS DISTINCT FROM NEW.team_id) EXECUTE FUNCTION users_access_keys_trigger()",
]

# GIN puts new entries in a pending list that every search reads through until it is merged, by a vacuum or
# once it exceeds gin_pending_list_limit (4 MB by default). New contacts and the keys' changes (claims,
# reassignments) filled it: a rep's "António Silva" read 474 pending pages, 2.7 → 13.8 ms, an email fragment
# 0.4 → 3.9 ms. 256 kB keeps it to ~30 pages (5.0 and 1.8 ms after 6,000 new contacts) and costs imports
# little; with no pending list (fastupdate off) every contact write paid its GIN inserts: imports 40 % slower.
INDEXES = {
    "keys_contacts_search_name": "contacts USING gin (access_keys, search_name gin_trgm_ops) WITH (gin_pending_list_limit = 256)",
    "keys_contacts_email": "contacts USING gin (access_keys, lower(email) gin_trgm_ops) WITH (gin_pending_list_limit = 256)",
}
REPLACED = {  # as 0015 and 0002 made them, for the downgrade
    "trgm_contacts_search_name": "contacts USING gin (search_name gin_trgm_ops)",
    "trgm_contacts_email": "contacts USING gin (lower(email) gin_trgm_ops)",
    "trgm_contacts_phone": "contacts USING gin (phone gin_trgm_ops)",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE contacts ADD COLUMN access_keys text[]")
    for statement in (KEYS_FUNCTION, REFRESH_FUNCTION, LEADS_ROWS_TRIGGER_FUNCTION, LEADS_CHANGE_TRIGGER_FUNCTION,
                      CONTACTS_TRIGGER_FUNCTION, USERS_TRIGGER_FUNCTION, *TRIGGERS):
        op.execute(statement)
    op.execute("UPDATE contacts SET access_keys = contact_access_keys(id, team_id)")
    for name, definition in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {definition}")
    for name in REPLACED:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute("ANALYZE contacts")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, definition in REPLACED.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    # CASCADE: a trigger function takes its triggers with it
    for function in ("users_access_keys_trigger()", "contacts_access_keys_trigger()",
                     "leads_change_access_keys_trigger()", "leads_rows_access_keys_trigger()",
                     "refresh_contact_access_keys(integer[])", "contact_access_keys(integer, integer)"):
        op.execute(f"DROP FUNCTION IF EXISTS {function} CASCADE")
    op.execute("ALTER TABLE contacts DROP COLUMN IF EXISTS access_keys")
