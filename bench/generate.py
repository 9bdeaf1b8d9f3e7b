"""Fill a PostgreSQL database with a realistic organisation at a chosen size, fast.

    .venv/bin/python -m bench.generate --leads 1000000 [--touches-per-lead 10] [--seed 1] [--url ...]

Bulk-loads with COPY: secondary indexes and foreign-key triggers are set aside during the
load and rebuilt afterwards. The same seed gives the same data. The database named in
--url is dropped and recreated, then migrated to head.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import click
import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from crm.contacts.folding import name_key
from crm.schema import upgrade

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/touchline_bench"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
COUNTRIES = [("PT", "Europe/Lisbon", "pt", "+3519", 8), ("RO", "Europe/Bucharest", "ro", "+407", 8),
             ("RU", "Europe/Moscow", "ru", "+79", 9), ("JP", "Asia/Tokyo", "ja", "+8190", 8),
             ("GB", "Europe/London", "en", "+447", 9), ("BR", "America/Sao_Paulo", "pt", "+55119", 8)]
# Names per country, most common first. A contact's first name and surname (two surnames for half of the
# Portuguese and Brazilians) are drawn with weights falling with their rank, as real names are: a few
# very common names (searching "Maria Silva" finds thousands), most shared by a handful of people.
NAMES = {
    "PT": (["Maria", "Ana", "João", "José", "António", "Francisco", "Manuel", "Beatriz", "Inês", "Rui", "Pedro",
            "Gonçalo", "Mariana", "Carolina", "Tiago", "Joana", "Rita", "Miguel", "Catarina", "Luís", "Sofia",
            "Diogo", "Marta", "Bruno", "Filipa", "Nuno", "Raquel", "Ricardo", "Leonor", "Vasco"],
           ["Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Martins", "Jesus", "Sousa",
            "Fernandes", "Gonçalves", "Gomes", "Lopes", "Marques", "Alves", "Almeida", "Ribeiro", "Pinto", "Carvalho",
            "Teixeira", "Moreira", "Correia", "Mendes", "Nunes", "Soares", "Vieira", "Monteiro", "Cardoso", "Rocha",
            "Neves", "Coelho", "Cruz", "Cunha", "Pires", "Ramos", "Reis", "Simões", "Antunes", "Matos", "Fonseca",
            "Machado", "Araújo", "Barbosa", "Tavares", "Lourenço", "Castro", "Figueiredo", "Azevedo", "Freitas"]),
    "BR": (["Maria", "José", "Ana", "João", "Antônio", "Francisco", "Carlos", "Paulo", "Pedro", "Lucas", "Luiz",
            "Marcos", "Luís", "Gabriel", "Rafael", "Francisca", "Daniel", "Marcelo", "Bruno", "Eduardo", "Juliana",
            "Adriana", "Márcia", "Fernanda", "Patrícia", "Aline", "Sandra", "Camila", "Amanda", "Bruna"],
           ["Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima", "Gomes",
            "Ribeiro", "Carvalho", "Almeida", "Lopes", "Soares", "Fernandes", "Vieira", "Barbosa", "Rocha", "Dias",
            "Nascimento", "Andrade", "Moreira", "Nunes", "Marques", "Machado", "Mendes", "Freitas", "Cardoso",
            "Ramos", "Gonçalves", "Santana", "Teixeira", "Araújo", "Conceição", "Castro", "Pinto", "Cavalcanti"]),
    "RO": (["Maria", "Ion", "Elena", "Andrei", "Ioana", "Alexandru", "Mihai", "Ana", "Gheorghe", "Cristina",
            "Vasile", "Constantin", "Ștefan", "Adrian", "Andreea", "Florin", "Gabriela", "Daniel", "Mihaela",
            "Nicolae", "Alina", "Marius", "Bogdan", "Simona", "Răzvan", "Oana", "Ionuț", "Diana", "Cătălin", "Irina"],
           ["Popa", "Popescu", "Pop", "Radu", "Dumitru", "Stan", "Stoica", "Gheorghe", "Matei", "Ciobanu", "Ionescu",
            "Rusu", "Mihai", "Constantin", "Munteanu", "Florea", "Moldovan", "Marin", "Dinu", "Lungu", "Șerban",
            "Toma", "Tudor", "Barbu", "Nistor", "Neagu", "Răducanu", "Vasilescu", "Năstase", "Brăescu", "Pîrvu",
            "Ene", "Cristea", "Dobre", "Preda", "Sima", "Manole", "Oprea", "Iordache", "Țurcanu"]),
    "RU": (["Александр", "Сергей", "Елена", "Наталья", "Дмитрий", "Андрей", "Ольга", "Алексей", "Татьяна",
            "Ирина", "Иван", "Мария", "Анна", "Михаил", "Светлана", "Владимир", "Юлия", "Николай", "Екатерина",
            "Павел", "Артём", "Анастасия", "Максим", "Ксения", "Фёдор", "Дарья", "Роман", "Пётр", "Алёна", "Глеб"],
           ["Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков",
            "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов",
            "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин", "Захаров", "Зайцев", "Соловьёв",
            "Борисов", "Яковлев", "Григорьев", "Романов", "Воробьёв", "Сергеев", "Ёлкин", "Фролов", "Александров"]),
    "JP": (["Haruto", "Yui", "Sota", "Hina", "Yuto", "Aoi", "Riku", "Mei", "Hiroshi", "Yuki", "Takeshi", "Sakura",
            "Kenji", "Akira", "Naoko", "Daiki", "Emi", "Kaito", "Rin", "Shota", "Ayaka", "Ren", "Misaki", "Kazuki",
            "Nanami", "Takumi", "Haruka", "Ryo", "Miyu", "Kenta"],
           ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi", "Kato",
            "Yoshida", "Yamada", "Sasaki", "Yamaguchi", "Matsumoto", "Inoue", "Kimura", "Hayashi", "Shimizu",
            "Yamazaki", "Mori", "Abe", "Ikeda", "Hashimoto", "Yamashita", "Ishikawa", "Nakajima", "Maeda", "Fujita",
            "Ogawa", "Goto", "Okada", "Hasegawa", "Murakami", "Kondo", "Ishii"]),
    "GB": (["Oliver", "Amelia", "George", "Olivia", "Harry", "Isla", "Jack", "Emily", "James", "Sophie", "William",
            "Jessica", "Thomas", "Charlotte", "Charlie", "Grace", "Daniel", "Lily", "Joshua", "Ella", "Samuel",
            "Chloe", "Joseph", "Megan", "Henry", "Lucy", "Alfie", "Hannah", "Oscar", "Freya"],
           ["Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson",
            "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall",
            "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood", "Turner", "Martin", "Cooper", "Hill", "Ward",
            "Morris", "Moore", "Clark", "Lee", "King", "Baker", "Harrison", "Morgan", "Allen"]),
}
TWO_SURNAMES = {"PT", "BR"}
LAST = [last for _first, lasts in NAMES.values() for last in lasts]  # account names


def _weights(n: int) -> list[float]:
    return [1 / (rank + 3) for rank in range(n)]


_NAME_WEIGHTS = {code: (_weights(len(first)), _weights(len(last))) for code, (first, last) in NAMES.items()}


def person_name(rng, code: str) -> tuple[str, str]:
    firsts, lasts = NAMES[code]
    first_w, last_w = _NAME_WEIGHTS[code]
    first = rng.choices(firsts, first_w)[0]
    last = rng.choices(lasts, last_w)[0]
    if code in TWO_SURNAMES and rng.random() < 0.5:
        last = f"{rng.choices(lasts, last_w)[0]} {last}"
    return first, last


STAGES = ["discover", "nurture", "propose", "close"]
CALL_OUTCOMES = ["connected", "no_answer", "no_answer", "busy", "voicemail", "connected", "wrong_number"]
CHANNELS = ["call"] * 55 + ["email"] * 20 + ["chat"] * 9 + ["social"] * 6 + ["sms"] * 6 + ["meeting"] * 4


def pg_conninfo(url: str) -> str:
    u = make_url(url)
    return f"host={u.host or '127.0.0.1'} port={u.port or 5432} user={u.username or 'postgres'} dbname={u.database}" + (
        f" password={u.password}" if u.password else "")


def recreate(url: str) -> None:
    u = make_url(url)
    admin = sa.create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{u.database}"')
    admin.dispose()
    engine = sa.create_engine(url)
    upgrade(engine)
    engine.dispose()


class Loader:
    """COPY rows into a table with its secondary indexes and FK triggers set aside."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        self.saved_indexes: dict[str, list[tuple[str, str]]] = {}

    def set_aside(self, table: str) -> None:
        rows = self.conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s AND NOT EXISTS ("
            " SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)", (table,)).fetchall()
        self.saved_indexes[table] = rows
        for name, _ in rows:
            self.conn.execute(f'DROP INDEX "{name}"')
        self.conn.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER ALL')

    def restore(self, table: str) -> None:
        for _, definition in self.saved_indexes.pop(table, []):
            self.conn.execute(definition)
        self.conn.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER ALL')

    def copy(self, table: str, columns: list[str], rows, progress=None) -> int:
        n = 0
        with self.conn.cursor().copy(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN') as cp:
            for row in rows:
                cp.write_row(row)
                n += 1
                if progress is not None and n % 10000 == 0:
                    progress(10000)
        if progress is not None:
            progress(n % 10000)
        if "id" in columns:
            self.conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM \"{table}\"))")
        return n


def generate(url: str, leads: int, touches_per_lead: int, seed: int, reps_n: int, teams_n: int) -> dict:
    rng = random.Random(seed)
    started = time.perf_counter()
    recreate(url)
    figures: dict = {"leads": leads}
    with psycopg.connect(pg_conninfo(url), autocommit=False) as conn:
        loader = Loader(conn)
        heavy = ["contacts", "leads", "stage_changes", "touches", "tasks", "handoffs", "outbound_emails", "surveys"]
        for table in heavy:
            loader.set_aside(table)
        password = "$argon2id$v=19$m=65536,t=3,p=4$YmVuY2hzYWx0$0Nn3i9I+3R7d4O1hXLxkq1o1m0y3Qe6i4TQy8n3oN1E"  # noqa: S105 (no one signs in as these)
        loader.copy("teams", ["id", "name", "timezone", "pool_mode", "speed_to_lead_seconds", "handoff_sla_hours",
                              "handoff_min_criteria", "handoff_rule"],
                    ((t, f"Team {t}", COUNTRIES[t % len(COUNTRIES)][1], t % 5 == 0, 300, 8, 3, "manual")
                     for t in range(1, teams_n + 1)))
        users, uid = [], 0
        for t in range(1, teams_n + 1):
            uid += 1
            users.append((uid, f"manager{t}@bench.example", f"Manager {t}", "manager", t))
            for _ in range(reps_n // teams_n):
                uid += 1
                users.append((uid, f"rep{uid}@bench.example", f"Rep {uid}", "rep", t))
            for _ in range(2):
                uid += 1
                users.append((uid, f"field{uid}@bench.example", f"Field {uid}", "field", t))
        uid += 1
        users.append((uid, "admin@bench.example", "Bench Admin", "admin", None))
        loader.copy("users", ["id", "email", "name", "password_hash", "role", "team_id", "timezone", "locale",
                              "hourly_cost", "active", "territory", "calendar_secret"],
                    ((u[0], u[1], u[2], password, u[3], u[4], "Europe/Lisbon", "en", Decimal(rng.randint(15, 45)),
                      True, "", f"cal-{u[0]}") for u in users))
        reps_by_team: dict[int, list[int]] = {}
        field_by_team: dict[int, list[int]] = {}
        for u in users:
            if u[3] == "rep":
                reps_by_team.setdefault(u[4], []).append(u[0])
            elif u[3] == "field":
                field_by_team.setdefault(u[4], []).append(u[0])
        loader.copy("sources", ["id", "name", "spend", "currency"],
                    ((i, name, Decimal(rng.randint(0, 50000)), "EUR") for i, name in enumerate(
                        ["Web form", "Inbound call", "Referral", "Trade fair", "Purchased list", "Inbound email"], 1)))
        campaigns = 40
        loader.copy("campaigns", ["id", "name", "team_id", "spend", "currency", "call_script", "active"],
                    ((c, f"Campaign {c}", (c % teams_n) + 1, Decimal(rng.randint(1000, 90000)), "EUR",
                      "Hello, this is … calling about …", True) for c in range(1, campaigns + 1)))
        conn.execute("INSERT INTO lost_reasons (label, active) VALUES ('No budget', true), ('Competitor', true), "
                     "('No need', true), ('Bad timing', true), ('Unreachable', true)")
        accounts = max(leads // 20, 1)
        loader.copy("accounts", ["id", "name", "country"],
                    ((a, f"{rng.choice(LAST)} {rng.choice(['Lda', 'SRL', 'LLC', 'KK', 'Ltd'])} {a}",
                      COUNTRIES[a % len(COUNTRIES)][0]) for a in range(1, accounts + 1)))
        conn.commit()

        with click.progressbar(length=leads, label="contacts") as bar:
            figures["contacts"] = loader.copy(
                "contacts", ["id", "account_id", "first_name", "last_name", "email", "phone", "timezone", "locale",
                             "country", "do_not_call", "email_opt_out", "team_id", "created_at", "updated_at", "search_name"],
                _contacts(rng, leads, accounts, teams_n), bar.update)
        lead_rows = _leads(rng, leads, teams_n, reps_by_team, campaigns)
        lead_state: list[tuple] = []

        def leads_iter():
            for row in lead_rows:
                lead_state.append((row[0], row[3], row[4], row[6], row[8], row[16], row[5]))
                yield row

        with click.progressbar(length=leads, label="leads") as bar:
            loader.copy("leads", ["id", "contact_id", "title", "stage", "status", "owner_id", "team_id", "field_owner_id",
                                  "campaign_id", "source_id", "value", "currency", "score", "lost_reason_id",
                                  "lost_note", "next_action_at", "created_at", "updated_at", "stage_changed_at",
                                  "closed_at", "first_touch_at", "last_touch_at"], leads_iter(), bar.update)
        with click.progressbar(length=leads, label="stage changes") as bar:
            figures["stage_changes"] = loader.copy(
                "stage_changes", ["lead_id", "from_stage", "to_stage", "from_status", "to_status", "changed_at",
                                  "changed_by_id", "note"], _stage_changes(lead_state), bar.update)
        total_touches = leads * touches_per_lead
        with click.progressbar(length=total_touches, label="touches") as bar:
            figures["touches"] = loader.copy(
                "touches", ["contact_id", "lead_id", "user_id", "campaign_id", "channel", "direction", "outcome",
                            "occurred_at", "queued_at", "answered_at", "queue_seconds", "talk_seconds", "hold_seconds",
                            "wrap_seconds", "subject", "body", "provider", "external_id", "created_at"],
                _touches(rng, lead_state, touches_per_lead, reps_by_team), bar.update)
        figures["tasks"] = loader.copy(
            "tasks", ["kind", "title", "notes", "lead_id", "contact_id", "assignee_id", "due_at", "status", "origin",
                      "created_at", "updated_at"], _tasks(rng, lead_state))
        figures["handoffs"] = loader.copy(
            "handoffs", ["lead_id", "from_user_id", "to_user_id", "status", "budget", "budget_met", "authority",
                         "authority_met", "need", "need_met", "timeline", "timeline_met", "notes", "rejection_reason",
                         "created_at", "updated_at", "submitted_at", "decided_at"], _handoffs(rng, lead_state, field_by_team))
        figures["outbound_emails"] = loader.copy(
            "outbound_emails", ["idempotency_key", "contact_id", "lead_id", "kind", "to_email", "from_email", "subject",
                                "body_text", "body_html", "status", "attempts", "next_attempt_at", "last_error",
                                "created_at", "updated_at", "sent_at"], _emails(rng, lead_state))
        figures["surveys"] = conn.execute(
            "INSERT INTO surveys (touch_id, contact_id, user_id, token, sent_at, answered_at, score, comment) "
            "SELECT id, contact_id, user_id, 'bench-' || id, occurred_at, occurred_at + interval '2 hours', "
            "1 + (id % 5), '' FROM touches WHERE channel = 'call' AND outcome = 'connected' AND id % 9 = 0").rowcount
        conn.commit()
        # The leads' indexes first: the contacts' access keys (migration 0018; COPY went past the triggers
        # that keep them) are computed from each contact's leads, before the contacts' own indexes return.
        loader.restore("leads")
        conn.execute("UPDATE contacts SET access_keys = contact_access_keys(id, team_id)")
        conn.commit()
        with click.progressbar([t for t in heavy if t != "leads"], label="indexes") as tables:
            for table in tables:
                loader.restore(table)
                conn.commit()
        _report_facts(url)  # COPY went past the report triggers (FK and other triggers were off)
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    figures["seconds"] = round(time.perf_counter() - started, 1)
    return figures


def _report_facts(url: str) -> None:
    from crm import create_app
    from crm.extensions import db
    from crm.reports.rollups import rebuild_report_facts

    with create_app({"SQLALCHEMY_DATABASE_URI": url}).app_context():
        rebuild_report_facts()
        db.session.commit()


def _contacts(rng, n, accounts, teams_n):
    for i in range(1, n + 1):
        code, zone, locale, prefix, digits = COUNTRIES[i % len(COUNTRIES)]
        first, last = person_name(rng, code)
        created = NOW - timedelta(seconds=rng.randint(0, 365 * 86400))
        phone = prefix + str(10 ** (digits - 1) + (i * 7919) % (9 * 10 ** (digits - 1)))
        yield (i, rng.randint(1, accounts) if rng.random() < 0.7 else None, first, last, f"c{i}@example.{code.lower()}",
               phone, zone, locale, code, rng.random() < 0.03, rng.random() < 0.04, (i % teams_n) + 1, created, created,
               name_key(first, last))


def _leads(rng, n, teams_n, reps_by_team, campaigns):
    for i in range(1, n + 1):
        team = (i % teams_n) + 1
        created = NOW - timedelta(seconds=rng.randint(0, 365 * 86400))
        r = rng.random()
        stage, status = ("discover", "open") if r < .3 else ("nurture", "open") if r < .55 else \
            ("propose", "open") if r < .65 else ("close", "open") if r < .72 else ("close", "won") if r < .84 else \
            (rng.choice(["discover", "nurture", "propose"]), "lost")
        owner = None if rng.random() < 0.03 else rng.choice(reps_by_team[team])
        closed = created + timedelta(days=rng.randint(1, 60)) if status != "open" else None
        value = Decimal(rng.choice([900, 1500, 2400, 4800, 12000]))
        first_touch = created + timedelta(minutes=rng.randint(1, 600))
        yield (i, i, f"Lead {i}", stage, status, owner, team, None, (i % campaigns) + 1, (i % 6) + 1,
               value, "EUR", rng.randint(0, 100), rng.randint(1, 5) if status == "lost" else None, "",
               created + timedelta(days=rng.randint(0, 14)) if status == "open" else None, created, created,
               closed or created, closed, first_touch, first_touch + timedelta(days=rng.randint(0, 30)))


def _stage_changes(lead_state):
    for lead_id, stage, status, _team, _campaign, created, owner in lead_state:
        yield (lead_id, None, "discover", None, "open", created, owner, "created")
        at = created
        for k in range(1, STAGES.index(stage) + 1):
            at = at + timedelta(days=2 + (lead_id % 5))
            yield (lead_id, STAGES[k - 1], STAGES[k], "open", "open", at, owner, "")
        if status != "open":
            yield (lead_id, stage, stage, "open", status, at + timedelta(days=1), owner, "")


def _touches(rng, lead_state, per_lead, reps_by_team):
    ext = 0
    for lead_id, _stage, _status, team, campaign, created, owner in lead_state:
        user = owner or reps_by_team[team][0]
        for k in range(per_lead):
            ext += 1
            channel = CHANNELS[(lead_id * 31 + k * 17) % len(CHANNELS)]
            inbound = (lead_id + k) % 4 == 0
            at = created + timedelta(minutes=30 + k * 1440 + (lead_id % 600))
            outcome, queued, answered, queue_s, talk, hold, wrap = None, None, None, 0, 0, 0, 0
            if channel == "call":
                outcome = CALL_OUTCOMES[(lead_id + k) % len(CALL_OUTCOMES)]
                if inbound:
                    queue_s = (lead_id * 13 + k) % 120
                    queued = at
                    outcome = "abandoned" if (lead_id + k) % 13 == 0 else "connected"
                    answered = at + timedelta(seconds=queue_s) if outcome == "connected" else None
                if outcome == "connected":
                    talk, hold, wrap = 30 + (lead_id * 7 + k) % 900, (k % 3) * 15, 10 + k * 5
            elif channel == "email":
                outcome = "received" if inbound else ["delivered", "opened", "clicked", "replied", "bounced"][k % 5]
            elif channel == "meeting":
                outcome = "held" if k % 3 else "no_show"
            else:
                outcome = "received" if inbound else "delivered"
            yield (lead_id, lead_id, user, campaign, channel, "inbound" if inbound else "outbound", outcome, at,
                   queued, answered, queue_s, talk, hold, wrap, "", "", "bench", f"b{ext}", at)


def _tasks(rng, lead_state):
    for lead_id, _stage, status, _team, _campaign, created, owner in lead_state:
        if status == "open" and owner and lead_id % 3 == 0:
            due = NOW + timedelta(hours=(lead_id % 240) - 120)
            yield ("call", "Call back", "", lead_id, lead_id, owner, due, "open", "bench", created, created)


def _handoffs(rng, lead_state, field_by_team):
    for lead_id, stage, _status, team, _campaign, created, owner in lead_state:
        if stage in ("propose", "close") and owner:
            at = created + timedelta(days=3)
            state = "accepted" if lead_id % 10 else "rejected"
            yield (lead_id, owner, field_by_team[team][lead_id % 2], state, "ok", True, "cfo", lead_id % 2 == 0,
                   "replace", True, "q1", True, "", "" if state == "accepted" else "Not qualified", at, at, at,
                   at + timedelta(hours=lead_id % 30))


def _emails(rng, lead_state):
    for lead_id, _stage, _status, _team, _campaign, created, _owner in lead_state:
        if lead_id % 4 == 0:
            yield (f"bench:{lead_id}", lead_id, lead_id, "marketing", f"c{lead_id}@example.com", "sales@bench.example",
                   "Following up", "Hello", "<p>Hello</p>", "delivered", 1, created, "", created, created, created)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL, help="SQLAlchemy URL of the database to (re)create")
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--touches-per-lead", type=int, default=10)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--teams", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    figures = generate(args.url, args.leads, args.touches_per_lead, args.seed, args.reps, args.teams)
    print(" ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
