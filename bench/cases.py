"""The benchmark cases: what a rep, a manager and the machines do most.

A case prepares once (picks users and records, signs in) and returns a
zero-argument callable that does one operation through the real app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import select

from crm.auth.models import Role, User
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

    def client_for(self, user: User):
        client = self.app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = str(user.id)
            session["_fresh"] = True
        return client


@dataclass
class Case:
    prepare: Callable[[Context], Callable[[], object]]
    raw_sql: Callable[[Context], tuple[str, dict]] | None = None


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



CASES: dict[str, Case] = {
    "timeline": Case(timeline, timeline_sql),
    "lead_page": Case(lead_page),
    "dashboard_manager": Case(dashboard_manager),
}
