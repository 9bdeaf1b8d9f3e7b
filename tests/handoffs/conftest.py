"""An organisation for hand-off tests: two teams with inside reps, field reps and managers, and an admin."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from crm.auth.models import Role
from crm.handoffs import service
from tests import factories as f

# A Tuesday morning in Lisbon (winter: Lisbon is on UTC).
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)

FULL = service.Qualification(budget="€40k approved", budget_met=True, authority="CFO signs", authority_met=True,
                             need="40 seats of fibre", need_met=True, timeline="Q1", timeline_met=True,
                             notes="Prefers mornings.")
TWO_MET = service.Qualification(budget="€40k approved", budget_met=True, need="40 seats", need_met=True)


@pytest.fixture
def org(db_session):
    lisbon = f.team("Lisbon HQ", timezone="Europe/Lisbon")
    porto = f.team("Porto HQ", timezone="Europe/Lisbon")
    o = SimpleNamespace(
        lisbon=lisbon, porto=porto,
        rep=f.user(Role.REP, lisbon, name="Rita Rep"), rep_other=f.user(Role.REP, lisbon, name="Rui Rep"),
        field=f.user(Role.FIELD, lisbon, name="Filipa Field", territory="PT", timezone="Europe/Berlin"),
        field_other=f.user(Role.FIELD, lisbon, name="Fausto Field", territory="ES"),
        field_porto=f.user(Role.FIELD, porto, name="Paulo Field"),
        manager=f.user(Role.MANAGER, lisbon, name="Marta Manager"),
        manager_porto=f.user(Role.MANAGER, porto, name="Mario Manager"),
        admin=f.user(Role.ADMIN, name="Ana Admin"),
    )
    o.lead = f.lead(o.rep, contact_obj=f.contact(country="PT", timezone="Europe/Lisbon"), title="Fibre for 40 seats")
    # Qualified by a call: worked long before any hand-off, so no speed-to-lead flag muddles the SLA job's counts.
    o.lead.first_touch_at = o.lead.last_touch_at = o.lead.created_at
    return o


def hand(o, lead=None, *, qualification=FULL, to=None, actor=None, now=NOW, **kw):
    """Hand ``lead`` (default o.lead) to ``to`` (default o.field) as its owner."""
    target = o.field if to is None else to
    return service.hand_off(lead or o.lead, actor=actor or o.rep, qualification=qualification,
                            to_user_id=target.id if target != "rule" else None, now=now, **kw)


def sign_in(client, user) -> None:
    client.post("/logout")
    resp = client.post("/login", data={"email": user.email, "password": f.PASSWORD})
    assert resp.status_code == 302, resp.data[:500]
