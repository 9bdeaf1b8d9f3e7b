"""Small factories for records. They add to the test's session and flush."""

from __future__ import annotations

import itertools
from decimal import Decimal

from crm.auth.models import Role, Team, User
from crm.auth.service import create_token, hash_password
from crm.contacts.models import Contact
from crm.extensions import db
from crm.leads.models import Campaign, Lead, LostReason
from crm.leads.service import create_lead

PASSWORD = "correct horse battery"
_seq = itertools.count(1)
_hash_cache: dict[str, str] = {}


def _password_hash(password: str) -> str:
    if password not in _hash_cache:
        _hash_cache[password] = hash_password(password)
    return _hash_cache[password]


def team(name: str | None = None, **kw) -> Team:
    t = Team(name=name or f"Team {next(_seq)}", **kw)
    db.session.add(t)
    db.session.flush()
    return t


def user(role: Role | str = Role.REP, team: Team | None = None, email: str | None = None, password: str = PASSWORD,
         **kw) -> User:
    n = next(_seq)
    u = User(email=email or f"user{n}@example.com", name=kw.pop("name", f"User {n}"), role=Role(role),
             password_hash=_password_hash(password), team=team, calendar_secret=f"cal-{n}-secret", **kw)
    db.session.add(u)
    db.session.flush()
    return u


def token(u: User) -> str:
    return create_token(u, "test")


def contact(**kw) -> Contact:
    n = next(_seq)
    defaults = {"first_name": f"First{n}", "last_name": f"Last{n}", "email": f"contact{n}@example.org",
                "phone": f"+3519123{n:05d}"[:13], "timezone": "Europe/Lisbon"}
    defaults.update(kw)
    c = Contact(**defaults)
    db.session.add(c)
    db.session.flush()
    return c


def lead(owner: User | None = None, contact_obj: Contact | None = None, team_obj: Team | None = None,
         actor: User | None = None, **kw) -> Lead:
    return create_lead(contact_obj or contact(), actor=actor or owner, owner=owner,
                       team_id=team_obj.id if team_obj else (owner.team_id if owner else None), **kw)


def campaign(team_obj: Team | None = None, **kw) -> Campaign:
    c = Campaign(name=kw.pop("name", f"Campaign {next(_seq)}"), team_id=team_obj.id if team_obj else None,
                 spend=kw.pop("spend", Decimal("0")), **kw)
    db.session.add(c)
    db.session.flush()
    return c


def lost_reason(label: str = "No budget") -> LostReason:
    r = LostReason(label=f"{label} {next(_seq)}")
    db.session.add(r)
    db.session.flush()
    return r
