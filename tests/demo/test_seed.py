"""The demo organisation: realistic, spread over stages and channels, loaded once."""

from __future__ import annotations

import phonenumbers
from sqlalchemy import func, select

from crm.auth.models import Role, User
from crm.cli import crm_cli
from crm.contacts.models import Contact
from crm.demo.seed import seed
from crm.leads.models import Lead, StageChange
from crm.touches.models import Touch


def test_seed_builds_a_realistic_organisation_once(db_session):
    result = seed(120)
    assert result == {"created": True, "leads": 120, "users": 9}
    roles = dict(db_session.execute(select(User.role, func.count()).group_by(User.role)).all())
    assert roles == {Role.ADMIN: 1, Role.MANAGER: 1, Role.REP: 5, Role.FIELD: 2}
    contacts = db_session.scalars(select(Contact)).all()
    assert len({c.country for c in contacts}) >= 4
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(c.phone)) for c in contacts)
    assert any(not c.first_name.isascii() for c in contacts)  # Cyrillic and diacritics
    outcomes = set(db_session.execute(select(Lead.stage, Lead.status).distinct()).all())
    assert len(outcomes) >= 5
    channels = set(db_session.scalars(select(Touch.channel).distinct()))
    assert len(channels) >= 5
    # every lead's history starts with its creation, and moves are in time order
    for lead in db_session.scalars(select(Lead).limit(30)):
        times = db_session.scalars(select(StageChange.changed_at).where(StageChange.lead_id == lead.id)
                                   .order_by(StageChange.id)).all()
        assert times == sorted(times) and times[0] == lead.created_at
    assert seed(120) == {"created": False}
    assert db_session.scalar(select(func.count()).select_from(Lead)) == 120


def test_seed_demo_command_twice_adds_nothing(app, db_session):
    runner = app.test_cli_runner()
    first = runner.invoke(crm_cli, ["seed-demo", "--leads", "30"])
    assert first.exit_code == 0 and "Demo loaded" in first.output
    second = runner.invoke(crm_cli, ["seed-demo", "--leads", "30"])
    assert "nothing added" in second.output
    assert db_session.scalar(select(func.count()).select_from(Lead)) == 30


def test_demo_logins_lists_every_role(app):
    out = app.test_cli_runner().invoke(crm_cli, ["demo-logins"]).output
    assert "manager@touchline.example" in out and "touchline-demo" in out
