"""N+1 guard: the main pages and API lists run as many SQL statements at 3n rows as at n.

Each case signs in as one role, opens one URL on a world of size n, grows the world to
3n (more leads, contacts, companies, touches, tasks, stage changes, hand-offs, emails,
users in more teams) and opens it again; the statement counts must be equal.

To guard a new page, add one line to CASES (and, if the page shows records the world
does not make yet, one function to GROWERS that adds ``k`` of them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.auth.models import Role, Team, User
from crm.contacts.models import Account
from crm.db import utcnow
from crm.email.outbox import queue_email
from crm.extensions import db
from crm.handoffs.models import Handoff, HandoffStatus
from crm.leads.models import Lead, Stage
from crm.leads.service import change_stage
from crm.tasks.models import Task
from crm.touches.service import log_touch
from tests import factories as f

N = 3


@dataclass
class World:
    """Ids of the people and the one lead whose page is opened; records are made by grow()."""

    team_id: int
    rep_id: int
    manager_id: int
    admin_id: int
    focus_lead_id: int
    grown: int = 0

    def user(self, role: str) -> User:
        return db.session.get(User, {"rep": self.rep_id, "manager": self.manager_id, "admin": self.admin_id}[role])

    @property
    def focus(self) -> Lead:
        return db.session.get(Lead, self.focus_lead_id)

    def grow(self, k: int) -> None:
        """Add k of everything, through the services where there is one."""
        for grower in GROWERS:
            grower(self, k)
        self.grown += k
        db.session.commit()


def _grow_leads(world: World, k: int) -> None:
    """k more leads of the rep, each with its own contact, company, source, campaign and touch."""
    rep = world.user("rep")
    for i in range(world.grown, world.grown + k):
        account = Account(name=f"Company {i}")
        db.session.add(account)
        person = f.contact(account=account)
        lead = f.lead(rep, contact_obj=person, source=f"Source {i}", campaign=f.campaign(name=f"Campaign {i}"))
        log_touch(contact=person, lead=lead, user=rep, channel="call", direction="outbound", outcome="no_answer")


def _grow_focus_history(world: World, k: int) -> None:
    """k more touches, tasks, stage changes and hand-offs on the lead whose page is opened."""
    rep, lead = world.user("rep"), world.focus
    other = f.user(Role.REP, db.session.get(Team, world.team_id))
    now = utcnow()
    for i in range(k):
        log_touch(contact=lead.contact, lead=lead, user=f.user(Role.REP, rep.team), channel="email",
                  direction="outbound", outcome="sent", subject=f"mail {world.grown + i}")
        db.session.add(Task(title=f"Call back {i}", lead_id=lead.id, contact_id=lead.contact_id,
                            assignee_id=f.user(Role.REP, rep.team).id, due_at=now + timedelta(days=1)))
        db.session.add(Handoff(lead_id=lead.id, from_user_id=rep.id, to_user_id=other.id, status=HandoffStatus.REJECTED))
        change_stage(lead, Stage.NURTURE if lead.stage == Stage.DISCOVER else Stage.DISCOVER,
                     actor=f.user(Role.MANAGER, rep.team))
    db.session.flush()


def _grow_outbox(world: World, k: int) -> None:
    """k more queued emails, each for a different lead and contact, queued by different users."""
    rep = world.user("rep")
    leads = db.session.scalars(select(Lead).where(Lead.owner_id == rep.id).order_by(Lead.id.desc()).limit(k)).all()
    for lead in leads:
        queue_email(idempotency_key=f"n1-{lead.id}", contact=lead.contact, lead=lead, user=f.user(Role.REP, rep.team),
                    subject="Hello", body="Hello {{ contact.first_name }}")


def _grow_users(world: World, k: int) -> None:
    """k more users, each in a team of its own (the admin list shows each user's team)."""
    for _ in range(k):
        f.user(Role.REP, f.team())


GROWERS: list[Callable[[World, int], None]] = [_grow_leads, _grow_focus_history, _grow_outbox, _grow_users]


@dataclass(frozen=True)
class Case:
    """One page or API call: who opens it and which URL (given the world)."""

    viewer: str
    url: Callable[[World], str]
    api: bool = False


CASES: dict[str, Case] = {
    "dashboard_rep": Case("rep", lambda w: "/"),
    "dashboard_manager": Case("manager", lambda w: "/"),
    "contacts_list": Case("rep", lambda w: "/contacts"),
    "contacts_search": Case("rep", lambda w: "/contacts?q=First"),
    "contact_page": Case("rep", lambda w: f"/contacts/{w.focus.contact_id}"),
    "lead_list_rep": Case("rep", lambda w: "/leads"),
    "lead_list_manager": Case("manager", lambda w: "/leads?status=open"),
    "lead_page": Case("rep", lambda w: f"/leads/{w.focus_lead_id}"),
    "outbox_manager": Case("manager", lambda w: "/outbox"),
    "outbox_admin": Case("admin", lambda w: "/outbox"),
    "admin_users": Case("admin", lambda w: "/admin/users"),
    "api_contacts": Case("rep", lambda w: "/api/v1/contacts", api=True),
    "api_contacts_search": Case("rep", lambda w: "/api/v1/contacts?q=First", api=True),
    "api_accounts": Case("rep", lambda w: "/api/v1/accounts", api=True),
    "api_leads_rep": Case("rep", lambda w: "/api/v1/leads", api=True),
    "api_leads_manager": Case("manager", lambda w: "/api/v1/leads?status=open", api=True),
    "api_touches": Case("rep", lambda w: "/api/v1/touches", api=True),
    "api_lead": Case("rep", lambda w: f"/api/v1/leads/{w.focus_lead_id}", api=True),
    "api_lead_touches": Case("rep", lambda w: f"/api/v1/touches?lead_id={w.focus_lead_id}", api=True),
}


@pytest.fixture
def world(db_session) -> World:
    team = f.team()
    rep = f.user(Role.REP, team)
    manager, admin = f.user(Role.MANAGER, team), f.user(Role.ADMIN)
    focus = f.lead(rep)
    db_session.commit()
    return World(team.id, rep.id, manager.id, admin.id, focus.id)


def opener(client, world: World, case: Case) -> Callable[[], object]:
    """A function that opens the case's URL as its viewer and checks it answered 200."""
    viewer = world.user(case.viewer)
    headers = {}
    if case.api:
        headers["Authorization"] = f"Bearer {f.token(viewer)}"
        db.session.commit()
    else:
        client.post("/login", data={"email": viewer.email, "password": f.PASSWORD})

    def open_it():
        resp = client.get(case.url(world), headers=headers)
        assert resp.status_code == 200, (case, resp.status_code, resp.data[:300])
        return resp
    return open_it


def statements_at_n_and_3n(count_queries, world: World, run: Callable[[], object], n: int = N) -> tuple[list, list]:
    """The SQL statements ``run`` issues with the world at size n and at size 3n (after a warm-up)."""
    world.grow(n)
    run()  # warm-up: first-request work (sign-in, caches) is not what is measured
    with count_queries() as small:
        run()
    world.grow(2 * n)
    with count_queries() as large:
        run()
    return small.statements, large.statements


@pytest.mark.parametrize("name", list(CASES))
def test_statement_count_does_not_grow_with_rows(name, client, count_queries, world):
    small, large = statements_at_n_and_3n(count_queries, world, opener(client, world, CASES[name]))
    extra = [s for s in large if large.count(s) > small.count(s)]
    assert len(large) == len(small), f"{name}: {len(small)} statements at n={N}, {len(large)} at 3n; repeated: {extra[:3]}"


def test_the_world_really_grows_to_three_times_n(client, db_session, world):
    world.grow(N)
    world.grow(2 * N)
    rep = world.user("rep")
    assert db_session.scalar(select(db.func.count()).select_from(Lead).where(Lead.owner_id == rep.id)) == 1 + 3 * N
    assert db_session.scalar(select(db.func.count()).select_from(Task).where(Task.lead_id == world.focus_lead_id)) == 3 * N


def test_guard_catches_a_list_that_loads_per_row(count_queries, world):
    """The helper itself: code that lazy-loads each lead's contact is reported as growing."""
    def names():
        db.session.expunge_all()
        leads = db.session.scalars(select(Lead).where(Lead.owner_id == world.rep_id)).all()
        return [lead.contact.first_name for lead in leads]

    small, large = statements_at_n_and_3n(count_queries, world, names)
    assert len(small) == 1 + N + 1 and len(large) == 1 + 3 * N + 1


def test_one_lead_by_api_is_read_with_everything_it_shows_in_one_statement(client, count_queries, world):
    world.grow(1)
    lead_id = db.session.scalar(select(Lead.id).where(Lead.owner_id == world.rep_id, Lead.campaign_id.is_not(None)))
    open_it = opener(client, world, Case("manager", lambda w: f"/api/v1/leads/{lead_id}", api=True))
    open_it()
    with count_queries() as counter:
        body = open_it().json
    assert body["campaign"] and body["source"] and body["contact"]["name"]
    selects = [s for s in counter.statements if s.lstrip().upper().startswith("SELECT")]
    # the token with its user, then the lead with its contact, owner, source and campaign
    assert len(selects) == 2, [s[:90] for s in selects]
