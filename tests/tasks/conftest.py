"""A small organisation for task tests: two teams, their reps, managers, an admin, and a lead each."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crm.auth.models import Role
from tests import factories as f

DUE = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def org(db_session):
    lisbon, porto = f.team("Lisbon"), f.team("Porto")
    people = {
        "rep_a": f.user(Role.REP, lisbon, name="Rita Reis"), "rep_b": f.user(Role.REP, lisbon, name="Ion Popescu"),
        "rep_porto": f.user(Role.REP, porto), "field": f.user(Role.FIELD, lisbon),
        "manager": f.user(Role.MANAGER, lisbon, name="Marta Manager"), "manager_porto": f.user(Role.MANAGER, porto),
        "admin": f.user(Role.ADMIN),
    }
    leads = {"a": f.lead(people["rep_a"]), "b": f.lead(people["rep_b"]), "porto": f.lead(people["rep_porto"])}
    return people, leads
