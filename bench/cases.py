"""The benchmark cases: what a rep, a manager and the machines do most.

A case prepares once (picks users and records, signs in) and returns a
zero-argument callable that does one operation through the real app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import select, text

from crm.auth.models import Role, User
from crm.contacts.models import Contact
from crm.contacts.timeline import contact_timeline
from crm.extensions import db
from crm.leads.models import Lead, LeadStatus


@dataclass
class Context:
    app: Flask
    rep: User
    manager: User

    @classmethod
    def build(cls, app: Flask) -> Context:
        rep = db.session.scalar(select(User).where(User.role == Role.REP).order_by(User.id).limit(1))
        manager = db.session.scalar(select(User).where(User.role == Role.MANAGER, User.team_id == rep.team_id))
        return cls(app, rep, manager)

    def api_for(self, user: User):
        """A GET function for /api/v1 with a fresh token of ``user`` (the bench database is disposable)."""
        from crm.auth.service import create_token

        token = create_token(user, "bench")
        db.session.commit()
        client = self.app.test_client()
        headers = {"Authorization": f"Bearer {token}"}

        def get(path: str, **params):
            resp = client.get("/api/v1" + path, headers=headers, query_string=params)
            assert resp.status_code == 200, (resp.status_code, resp.data[:200])
            return resp.json
        return get

    def client_for(self, user: User):
        client = self.app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = str(user.id)
            session["_fresh"] = True
        return client


@dataclass
class Case:
    prepare: Callable[[Context], Callable[[], object]]
    raw_sql: Callable[[Context], tuple[str, dict] | list[tuple[str, dict]]] | None = None


def _busiest_contact(ctx: Context) -> int:
    lead_id = db.session.scalar(select(Lead.id).where(Lead.owner_id == ctx.rep.id).order_by(Lead.id).limit(1))
    return db.session.scalar(select(Lead.contact_id).where(Lead.id == lead_id))


def timeline(ctx: Context):
    contact = db.session.get(Lead, db.session.scalar(
        select(Lead.id).where(Lead.owner_id == ctx.rep.id).limit(1))).contact
    return lambda: contact_timeline(contact)


def timeline_sql(ctx: Context):
    return ("SELECT * FROM touches WHERE contact_id = :c ORDER BY occurred_at DESC LIMIT 100", {"c": _busiest_contact(ctx)})


def lead_page(ctx: Context):
    client = ctx.client_for(ctx.rep)
    lead_id = db.session.scalar(select(Lead.id).where(Lead.owner_id == ctx.rep.id, Lead.status == LeadStatus.OPEN).limit(1))

    def run():
        resp = client.get(f"/leads/{lead_id}")
        assert resp.status_code == 200, resp.status_code
    return run


def dashboard_manager(ctx: Context):
    client = ctx.client_for(ctx.manager)

    def run():
        resp = client.get("/")
        assert resp.status_code == 200, resp.status_code
    return run



def lead_list(ctx: Context):
    get = ctx.api_for(ctx.rep)
    return lambda: get("/leads", limit=50)


def lead_list_filtered(ctx: Context):
    get = ctx.api_for(ctx.manager)
    return lambda: get("/leads", limit=50, stage="nurture", status="open")


def lead_list_sql(ctx: Context):
    return ("SELECT * FROM leads WHERE owner_id = :u OR (owner_id IS NULL AND status = 'open' AND "
            "(team_id = :t OR team_id IS NULL)) ORDER BY id DESC LIMIT 51", {"u": ctx.rep.id, "t": ctx.rep.team_id})


def _sample_contact(ctx: Context) -> Contact:
    lead_id = db.session.scalar(select(Lead.id).where(Lead.owner_id == ctx.rep.id).order_by(Lead.id.desc()).limit(1))
    return db.session.get(Lead, lead_id).contact


def search_name(ctx: Context):
    get = ctx.api_for(ctx.rep)
    contact = _sample_contact(ctx)
    query = f"{contact.first_name} {contact.last_name}"
    return lambda: get("/contacts", q=query, limit=20)


def search_common_name(ctx: Context):
    """The worst case: the most common first name and surname of all (thousands share it)."""
    get = ctx.api_for(ctx.rep)
    first, last = db.session.execute(text(
        "SELECT first_name, last_name FROM contacts GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1")).one()
    return lambda: get("/contacts", q=f"{first} {last}", limit=20)


def search_short(ctx: Context):
    """Two letters typed: the start of the most common first name (matched where words start)."""
    get = ctx.api_for(ctx.rep)
    first = db.session.scalar(text("SELECT first_name FROM contacts GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"))
    return lambda: get("/contacts", q=first[:2], limit=20)


def search_phone(ctx: Context):
    get = ctx.api_for(ctx.rep)
    contact = _sample_contact(ctx)
    national = contact.phone[-9:]
    return lambda: get("/contacts", q=f"{national[:3]} {national[3:6]} {national[6:]}", limit=20)


def search_email_admin(ctx: Context):
    admin = db.session.scalar(select(User).where(User.role == Role.ADMIN).limit(1))
    get = ctx.api_for(admin)
    email = _sample_contact(ctx).email
    return lambda: get("/contacts", q=email[:8], limit=20)


# --- Reports (issue 8): the funnel and rep-activity API over 30 days of the generated data, as a manager
# (their team) and as an admin (everyone); the raw twin runs the very statements the service runs.
REPORT_PERIOD = {"date_from": "2026-10-02", "date_to": "2026-10-31"}


def _admin(ctx: Context) -> User:
    return db.session.scalar(select(User).where(User.role == Role.ADMIN).order_by(User.id).limit(1))


def _report_sql(user: User, which: str) -> list[tuple[str, dict]]:
    from crm.reports import service
    from crm.reports.periods import ReportQuery
    from crm.reports.sql import REPORT_SETTINGS

    criteria = service.criteria_for(user, ReportQuery(**REPORT_PERIOD))
    statements = service.funnel_statements(criteria) if which == "funnel" else service.activity_statements(criteria)
    dialect = db.session.get_bind().dialect
    compiled = [(str(s.compile(dialect=dialect, compile_kwargs={"literal_binds": True})), {}) for s in statements.values()]
    return [*((setting, {}) for setting in REPORT_SETTINGS), *compiled]  # as crm.reports.sql.for_reports does


def report_funnel(ctx: Context):
    get = ctx.api_for(ctx.manager)
    return lambda: get("/reports/funnel", **REPORT_PERIOD)


def report_activity(ctx: Context):
    get = ctx.api_for(ctx.manager)
    return lambda: get("/reports/activity", **REPORT_PERIOD)


def report_funnel_admin(ctx: Context):
    get = ctx.api_for(_admin(ctx))
    return lambda: get("/reports/funnel", **REPORT_PERIOD)


def report_activity_admin(ctx: Context):
    get = ctx.api_for(_admin(ctx))
    return lambda: get("/reports/activity", **REPORT_PERIOD)


CASES: dict[str, Case] = {
    "lead_list": Case(lead_list, lead_list_sql),
    "lead_list_filtered": Case(lead_list_filtered),
    "search_name": Case(search_name),
    "search_common_name": Case(search_common_name),
    "search_short": Case(search_short),
    "search_phone": Case(search_phone),
    "search_email_admin": Case(search_email_admin),
    "timeline": Case(timeline, timeline_sql),
    "lead_page": Case(lead_page),
    "dashboard_manager": Case(dashboard_manager),
    "report_funnel": Case(report_funnel, lambda ctx: _report_sql(ctx.manager, "funnel")),
    "report_activity": Case(report_activity, lambda ctx: _report_sql(ctx.manager, "activity")),
    "report_funnel_admin": Case(report_funnel_admin, lambda ctx: _report_sql(_admin(ctx), "funnel")),
    "report_activity_admin": Case(report_activity_admin, lambda ctx: _report_sql(_admin(ctx), "activity")),
}


# --- the lead queue (crm/queue) -------------------------------------------------------------------

def _api_post_client(ctx: Context, user: User):
    from crm.auth.service import create_token

    token = create_token(user, "bench")
    db.session.commit()
    return ctx.app.test_client(), {"Authorization": f"Bearer {token}"}


def queue_claim(ctx: Context):
    """POST /api/v1/queue/next as a rep: releases the lead held before and claims the next one (committed)."""
    client, headers = _api_post_client(ctx, ctx.rep)

    def run():
        resp = client.post("/api/v1/queue/next", headers=headers)
        assert resp.status_code in (200, 204), (resp.status_code, resp.data[:200])
    return run


def queue_list(ctx: Context):
    get = ctx.api_for(ctx.rep)
    return lambda: get("/queue", limit=50)


def queue_page(ctx: Context):
    client = ctx.client_for(ctx.rep)

    def run():
        resp = client.get("/queue")
        assert resp.status_code == 200, resp.status_code
    return run


CASES.update({
    "queue_claim": Case(queue_claim),
    "queue_list": Case(queue_list),
    "queue_page": Case(queue_page),
})


# --- whole-run cases (scale branch): a throughput, measured once per run by the existing benchmark scripts ----

@dataclass
class Throughput:
    """A case measured as a rate by its own script (fresh data of its own), not as a repeated call."""

    measure: Callable[[str], dict]  # the bench database URL (for its server) -> {"rate", "unit", "seconds", ...}


def _script(args: list[str]) -> str:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, *args], cwd=root, capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode not in (0, 2):  # outbox_bench exits 2 when below its target: still a figure
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def import_throughput(url: str, rows: int = 25_000) -> dict:
    """bench.import_bench: a generated CSV of ``rows`` rows into a fresh database, the `crm import` path."""
    from sqlalchemy.engine import make_url

    bench = make_url(url)
    target = bench.set(database=f"{bench.database}_import").render_as_string(hide_password=False)  # recreated
    line = _script(["-m", "bench.import_bench", "--rows", str(rows), "--url", target]).strip().splitlines()[-1]
    figures = dict(item.split("=", 1) for item in line.split())
    return {"rate": float(figures["rows_per_s"]), "unit": "rows/s", "seconds": float(figures["seconds"]),
            "size": f"{rows} rows", "peak_rss_mb": float(figures["peak_rss_mb"]), "detail": figures}


def outbox_drain(url: str, messages: int = 2_000) -> dict:
    """bench/outbox_bench.py: two sender processes drain queued emails against a local SendGrid stand-in."""
    import re

    from sqlalchemy.engine import make_url

    server = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    out = _script(["bench/outbox_bench.py", "--messages", str(messages), "--database-url", server])
    drain = re.search(r"drain ([\d.]+) s .*?: (\d+) messages/s", out)
    if drain is None:
        raise RuntimeError(f"outbox_bench printed no drain figure:\n{out[-2000:]}")
    return {"rate": float(drain.group(2)), "unit": "messages/s", "seconds": float(drain.group(1)),
            "size": f"{messages} messages", "duplicates": int(re.search(r"duplicates (\d+)", out).group(1))}


THROUGHPUT: dict[str, Throughput] = {
    "import": Throughput(import_throughput),
    "outbox_drain": Throughput(outbox_drain),
}
