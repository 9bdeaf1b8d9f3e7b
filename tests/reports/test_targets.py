"""Targets: managers set them for their team and its reps; attainment counts from the tables."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import time_machine

from crm.extensions import db
from crm.handoffs.models import Handoff, HandoffStatus
from crm.leads.models import Stage
from crm.reports import targets
from crm.reports.models import Target, TargetMetric
from tests import factories
from tests.reports.builders import lead_at, move, touch, utc, win
from tests.reports.test_pages import sign_in


@pytest.fixture
def org(db_session):
    north, south = factories.team("North"), factories.team("South")
    manager = factories.user("manager", team=north)
    ana = factories.user("rep", team=north, name="Ana", timezone="Europe/Lisbon")
    bo = factories.user("rep", team=north, name="Bo")
    sul = factories.user("rep", team=south, name="Sul")
    field = factories.user("field", team=north)
    lead = lead_at(ana, utc(2026, 6, 1, 9))
    for n, outcome in enumerate(["connected", "no_answer", "connected"]):
        touch(ana, lead, "call", "outbound", outcome, utc(2026, 6, 2, 10, n))
    touch(bo, lead_at(bo, utc(2026, 6, 1, 9)), "call", "outbound", "busy", utc(2026, 6, 3, 10))
    # 30 June 23:30 in Lisbon is 22:30 UTC: in June for Ana's target; 1 July 00:30 Lisbon is not.
    touch(ana, lead, "call", "outbound", "busy", utc(2026, 6, 30, 22, 30))
    touch(ana, lead, "call", "outbound", "busy", utc(2026, 6, 30, 23, 30))
    move(lead, (Stage.NURTURE, utc(2026, 6, 3, 9)), (Stage.PROPOSE, utc(2026, 6, 4, 9)))
    win(lead, utc(2026, 6, 5, 9), "2500")
    db.session.add(Handoff(lead=lead, from_user=ana, to_user=field, status=HandoffStatus.ACCEPTED,
                           created_at=utc(2026, 6, 4, 12)))
    db.session.flush()
    return {"north": north, "south": south, "manager": manager, "ana": ana, "bo": bo, "sul": sul}


JUNE = {"period_start": date(2026, 6, 1), "period_end": date(2026, 6, 30)}


def _target(actor, subject, metric, value, **period):
    return targets.save_target(None, actor=actor, subject=subject, metric=metric, value=value, **(period or JUNE))


def test_attainment_per_metric_for_a_rep_and_the_team(org):
    m, ana, north = org["manager"], org["ana"], org["north"]
    made = [_target(m, f"user:{ana.id}", "calls", "8"), _target(m, f"user:{ana.id}", "connects", "4"),
            _target(m, f"user:{ana.id}", "handoffs", "2"), _target(m, f"user:{ana.id}", "won_count", "0"),
            _target(m, f"team:{north.id}", "calls", "12"), _target(m, f"team:{north.id}", "won_value", "5000")]
    got = {(a.target.user_id or "team", a.target.metric): (a.actual, a.ratio) for a in targets.attainment(made)}
    assert got[(ana.id, TargetMetric.CALLS)] == (Decimal(4), 0.5)  # 3 on 2 June + the 23:30 Lisbon one
    assert got[(ana.id, TargetMetric.CONNECTS)] == (Decimal(2), 0.5)
    assert got[(ana.id, TargetMetric.HANDOFFS)] == (Decimal(1), 0.5)
    assert got[(ana.id, TargetMetric.WON_COUNT)] == (Decimal(1), None)  # a target of 0: a dash
    # The team's zone is UTC: 30 June 22:30 and 23:30 UTC both count; Bo's call too.
    assert got[("team", TargetMetric.CALLS)] == (Decimal(6), 0.5)
    assert got[("team", TargetMetric.WON_VALUE)] == (Decimal("2500.00"), 0.5)


@pytest.mark.parametrize(("fields", "bad"), [
    ({"subject": "user:999999"}, "subject"), ({"subject": "nonsense"}, "subject"), ({"metric": "smiles"}, "metric"),
    ({"value": "-1"}, "value"), ({"value": "lots"}, "value"), ({"period_start": None}, "period_start"),
    ({"period_end": date(2026, 5, 1)}, "period_end")])
def test_bad_targets_name_the_field(org, fields, bad):
    from crm.errors import ValidationFailed

    values = {"subject": f"user:{org['ana'].id}", "metric": "calls", "value": "10", **JUNE, **fields}
    with pytest.raises(ValidationFailed) as err:
        targets.save_target(None, actor=org["manager"], **values)
    assert bad in err.value.fields


@pytest.mark.parametrize(("who", "subject", "allowed"), [
    ("manager", "ana", True), ("manager", "north", True), ("manager", "sul", False), ("manager", "south", False),
    ("ana", "ana", False)])
def test_who_may_set_targets_for_whom(org, who, subject, allowed):
    from crm.errors import AccessDenied

    ref = f"team:{org[subject].id}" if subject in ("north", "south") else f"user:{org[subject].id}"
    if allowed:
        assert _target(org[who], ref, "calls", "5").id
    else:
        with pytest.raises(AccessDenied):
            _target(org[who], ref, "calls", "5")


def test_target_pages_create_edit_delete_with_errors_beside_fields(client, org):
    sign_in(client, org["manager"])
    resp = client.post("/reports/targets", data={"subject": f"user:{org['ana'].id}", "metric": "calls",
                                                 "period_start": "2026-06-01", "period_end": "2026-05-01",
                                                 "value": "8"})
    assert resp.status_code == 422
    assert 'id="period_end-error"' in resp.get_data(as_text=True)
    resp = client.post("/reports/targets", data={"subject": f"user:{org['ana'].id}", "metric": "calls",
                                                 "period_start": "2026-06-01", "period_end": "2026-06-30",
                                                 "value": "8"})
    assert resp.status_code == 302
    target = db.session.scalar(db.select(Target))
    page = client.get("/reports/targets").get_data(as_text=True)
    assert f'data-target="{target.id}"' in page and "50.0%" in page
    resp = client.post(f"/reports/targets/{target.id}/edit", data={
        "subject": f"user:{org['ana'].id}", "metric": "calls", "period_start": "2026-06-01",
        "period_end": "2026-06-30", "value": "16"})
    assert resp.status_code == 302
    db.session.refresh(target)
    assert target.value == Decimal("16.00")
    resp = client.post(f"/reports/targets/{target.id}/edit", data={
        "subject": f"user:{org['sul'].id}", "metric": "calls", "period_start": "2026-06-01",
        "period_end": "2026-06-30", "value": "16"})
    assert resp.status_code == 422 and 'id="subject-error"' in resp.get_data(as_text=True)
    assert client.post(f"/reports/targets/{target.id}/delete").status_code == 302
    assert db.session.scalar(db.select(Target)) is None


def test_reps_see_targets_but_cannot_change_them(client, org):
    t = _target(org["manager"], f"user:{org['ana'].id}", "calls", "8")
    sign_in(client, org["ana"])
    assert f'data-target="{t.id}"' in client.get("/reports/targets").get_data(as_text=True)
    assert client.post(f"/reports/targets/{t.id}/delete").status_code == 404
    assert client.post("/reports/targets", data={"subject": f"user:{org['ana'].id}"}).status_code == 403


@time_machine.travel(utc(2026, 6, 15, 12), tick=False)
def test_the_reps_dashboard_shows_their_attainment(client, org):
    _target(org["manager"], f"user:{org['ana'].id}", "connects", "4")
    _target(org["manager"], f"user:{org['bo'].id}", "connects", "4")  # not Ana's
    _target(org["manager"], f"user:{org['ana'].id}", "calls", "8", period_start=date(2026, 7, 1),
            period_end=date(2026, 7, 31))  # not current
    sign_in(client, org["ana"])
    html = client.get("/").get_data(as_text=True)
    assert 'data-testid="my-targets"' in html
    assert html.count('data-testid="target-attainment"') == 1
    assert "50.0%" in html
