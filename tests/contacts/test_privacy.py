"""Data requests: export everything held about a person; erase it, keeping the counts."""

from __future__ import annotations

import json

from sqlalchemy import select

from crm.audit.models import AuditEvent
from crm.auth.models import Role
from crm.cli import crm_cli
from crm.touches.models import Touch
from crm.touches.service import log_touch
from tests import factories as f
from tests.api_helpers import Api


def _history(rep):
    lead = f.lead(rep, contact_obj=f.contact(first_name="Maria", last_name="Lopes", email="maria@lopes.pt"))
    log_touch(contact=lead.contact, lead=lead, user=rep, channel="call", direction="inbound", outcome="connected",
              talk_seconds=300, body="Wants 3 lines at home, Rua das Flores 12", ani="+351912345678")
    return lead


def test_export_has_everything_and_is_audited(client, db_session):
    team = f.team()
    rep, manager = f.user(Role.REP, team), f.user(Role.MANAGER, team)
    lead = _history(rep)
    resp = Api(client, manager).get(f"/contacts/{lead.contact_id}/export")
    assert resp.status_code == 200
    assert resp.json["contact"]["email"] == "maria@lopes.pt"
    assert resp.json["touches"][0]["body"].startswith("Wants 3 lines")
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "contact.exported")).actor_id == manager.id


def test_erase_anonymises_but_keeps_the_counts(client, db_session):
    team = f.team()
    rep, manager = f.user(Role.REP, team), f.user(Role.MANAGER, team)
    lead = _history(rep)
    resp = Api(client, manager).post(f"/contacts/{lead.contact_id}/erase")
    assert resp.status_code == 200, resp.json
    assert resp.json["email"] is None and resp.json["first_name"] == "Erased" and resp.json["do_not_call"] is True
    touch = db_session.scalar(select(Touch))
    assert (touch.body, touch.ani, touch.talk_seconds, touch.outcome.value) == ("", None, 300, "connected")
    assert Api(client, manager).post(f"/contacts/{lead.contact_id}/erase").status_code == 422
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "contact.erased"))


def test_reps_may_not_and_invisible_contacts_are_404(client, db_session):
    team, other_team = f.team(), f.team()
    rep, manager = f.user(Role.REP, team), f.user(Role.MANAGER, other_team)
    lead = _history(rep)
    assert Api(client, rep).get(f"/contacts/{lead.contact_id}/export").status_code == 403
    assert Api(client, rep).post(f"/contacts/{lead.contact_id}/erase").status_code == 403
    assert Api(client, manager).get(f"/contacts/{lead.contact_id}/export").status_code == 404


def test_cli_export_and_erase(app, db_session):
    lead = _history(f.user(Role.REP, f.team()))
    runner = app.test_cli_runner()
    out = runner.invoke(crm_cli, ["contact-export", str(lead.contact_id)])
    assert out.exit_code == 0 and json.loads(out.output)["contact"]["last_name"] == "Lopes"
    assert runner.invoke(crm_cli, ["contact-erase", str(lead.contact_id)]).exit_code != 0
    done = runner.invoke(crm_cli, ["contact-erase", str(lead.contact_id), "--yes"])
    assert done.exit_code == 0 and "erased" in done.output
    assert runner.invoke(crm_cli, ["contact-erase", "999999", "--yes"]).exit_code != 0
