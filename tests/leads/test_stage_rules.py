"""Stage rules in the service and through the lead page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.errors import StageError
from crm.leads.models import LeadStatus, Stage, StageChange
from crm.leads.service import change_stage, mark_lost, mark_won, reopen
from tests import factories as f


def _changes(db_session, lead):
    return db_session.scalars(select(StageChange).where(StageChange.lead_id == lead.id)
                              .order_by(StageChange.id)).all()


def test_one_step_forward_and_back_each_recorded(db_session):
    rep = f.user()
    lead = f.lead(rep)
    change_stage(lead, "nurture", actor=rep)
    change_stage(lead, "propose", actor=rep)
    change_stage(lead, "nurture", actor=rep)
    moves = [(c.from_stage, c.to_stage) for c in _changes(db_session, lead)]
    assert moves == [(None, Stage.DISCOVER), (Stage.DISCOVER, Stage.NURTURE), (Stage.NURTURE, Stage.PROPOSE),
                     (Stage.PROPOSE, Stage.NURTURE)]
    assert all(c.changed_by_id == rep.id for c in _changes(db_session, lead))


@pytest.mark.parametrize("to", ["propose", "close", "discover", "sideways"])
def test_invalid_moves_from_discover_change_nothing(db_session, to):
    rep = f.user()
    lead = f.lead(rep)
    with pytest.raises(StageError):
        change_stage(lead, to, actor=rep)
    assert lead.stage == Stage.DISCOVER and len(_changes(db_session, lead)) == 1


def test_won_needs_propose_or_close_and_a_value(db_session):
    rep = f.user()
    lead = f.lead(rep)
    with pytest.raises(StageError):
        mark_won(lead, actor=rep, value="100")
    change_stage(lead, "nurture", actor=rep)
    change_stage(lead, "propose", actor=rep)
    with pytest.raises(StageError) as exc:
        mark_won(lead, actor=rep)
    assert "value" in exc.value.fields
    mark_won(lead, actor=rep, value="2500.5")
    assert lead.status == LeadStatus.WON and str(lead.value) == "2500.50" and lead.closed_at


def test_lost_needs_known_reason_and_reopens_into_nurture(db_session):
    rep = f.user()
    lead = f.lead(rep)
    with pytest.raises(StageError):
        mark_lost(lead, actor=rep, reason="")
    with pytest.raises(StageError):
        mark_lost(lead, actor=rep, reason="made up")
    reason = f.lost_reason("Too expensive")
    mark_lost(lead, actor=rep, reason=reason.label)
    assert lead.status == LeadStatus.LOST and lead.lost_reason == reason
    with pytest.raises(StageError):
        change_stage(lead, "nurture", actor=rep)
    reopen(lead, actor=rep)
    assert (lead.stage, lead.status, lead.lost_reason_id) == (Stage.NURTURE, LeadStatus.OPEN, None)


def _sign_in(client, user):
    client.post("/login", data={"email": user.email, "password": f.PASSWORD})


def test_lead_page_shows_card_timeline_and_controls(client, db_session):
    rep = f.user()
    lead = f.lead(rep)
    _sign_in(client, rep)
    page = client.get(f"/leads/{lead.id}")
    assert page.status_code == 200
    assert lead.contact.full_name.encode() in page.data and b'data-testid="timeline"' in page.data
    assert b"Move this lead" in page.data


def test_lead_page_moves_stage(client, db_session):
    rep = f.user()
    lead = f.lead(rep)
    _sign_in(client, rep)
    resp = client.post(f"/leads/{lead.id}/stage", data={"action": "stage", "stage": "nurture"})
    assert resp.status_code == 302
    db_session.expire_all()
    assert lead.stage == Stage.NURTURE


def test_lead_page_refuses_lost_without_reason_beside_field(client, db_session):
    rep = f.user()
    lead = f.lead(rep)
    _sign_in(client, rep)
    resp = client.post(f"/leads/{lead.id}/stage", data={"action": "lost", "reason": ""})
    assert resp.status_code == 422 and b"Say why the lead was lost." in resp.data
    db_session.expire_all()
    assert lead.status == LeadStatus.OPEN


def test_other_reps_lead_is_404(client, db_session):
    rep, other = f.user(), f.user()
    lead = f.lead(other)
    _sign_in(client, rep)
    assert client.get(f"/leads/{lead.id}").status_code == 404
    assert client.post(f"/leads/{lead.id}/stage", data={"action": "stage", "stage": "nurture"}).status_code == 404
