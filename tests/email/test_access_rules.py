"""crm.access rules for email: who sees which outbox messages, who manages templates and suppressions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm import access
from crm.auth.models import Role
from crm.email.models import OutboundEmail
from crm.email.outbox import queue_email
from crm.errors import NotFound
from tests import factories as f


@pytest.fixture
def world(db_session):
    lisbon, porto = f.team("Lisbon"), f.team("Porto")
    rita = f.user(Role.REP, team=lisbon)
    rui = f.user(Role.REP, team=lisbon)
    paulo = f.user(Role.REP, team=porto)
    messages = {}
    for name, rep in (("rita", rita), ("rui", rui), ("paulo", paulo)):
        lead = f.lead(rep)
        messages[name] = queue_email(idempotency_key=name, contact=lead.contact, lead=lead, user=rep, subject=name, body="b")
    # Rita wrote to Paulo's lead once (say, covering for him): she still sees what she queued.
    paulo_lead = db_session.get(OutboundEmail, messages["paulo"].id).lead_id
    from crm.leads.models import Lead

    lead = db_session.get(Lead, paulo_lead)
    messages["rita_on_paulo"] = queue_email(idempotency_key="cover", contact=lead.contact, lead=lead, user=rita,
                                            subject="cover", body="b")
    messages["system"] = queue_email(idempotency_key="report", to_email="boss@example.org", subject="report", body="b")
    users = {"rita": rita, "rui": rui, "paulo": paulo, "lisbon_manager": f.user(Role.MANAGER, team=lisbon),
             "admin": f.user(Role.ADMIN), "field": f.user(Role.FIELD, team=lisbon)}
    return users, messages


def _visible(db_session, user) -> set[str]:
    rows = db_session.scalars(select(OutboundEmail).where(access.outbound_email_visibility(user)))
    return {m.idempotency_key for m in rows}


@pytest.mark.parametrize(("who", "sees"), [
    ("rita", {"rita", "cover"}), ("rui", {"rui"}), ("paulo", {"paulo", "cover"}),
    ("lisbon_manager", {"rita", "rui"}), ("field", set()),
    ("admin", {"rita", "rui", "paulo", "cover", "report"}),
])
def test_outbox_visibility(db_session, world, who, sees):
    users, _messages = world
    assert _visible(db_session, users[who]) == sees


def test_another_users_message_answers_not_found(db_session, world):
    users, messages = world
    assert access.get_outbound_email(users["rita"], messages["rita"].id).id == messages["rita"].id
    with pytest.raises(NotFound):
        access.get_outbound_email(users["rita"], messages["rui"].id)


@pytest.mark.parametrize(("role", "allowed"), [(Role.ADMIN, True), (Role.MANAGER, False), (Role.REP, False),
                                               (Role.FIELD, False)])
def test_only_admins_manage_templates_and_suppressions(db_session, role, allowed):
    assert access.can_manage_email(f.user(role)) is allowed
