"""The pages: Hand off from the lead, the inbox, deciding, approving, the dashboard and the timeline."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from crm.handoffs import service
from crm.handoffs.models import Handoff, HandoffStatus
from crm.leads.models import Lead, Stage
from crm.leads.service import change_stage
from crm.tasks.models import Task
from tests.handoffs.conftest import TWO_MET, hand, sign_in

FORM = {"budget": "€40k approved", "budget_met": "y", "authority": "CFO signs", "authority_met": "y",
        "need": "40 seats", "need_met": "y", "timeline": "Q1", "notes": "Prefers mornings",
        "proposed_meeting_at": "2030-01-15T09:30"}


def _count(db_session):
    return db_session.scalar(select(func.count()).select_from(Handoff))


def test_the_lead_page_offers_hand_off_to_its_rep_only_while_it_may_be(client, db_session, org):
    sign_in(client, org.rep)
    page = client.get(f"/leads/{org.lead.id}").get_data(as_text=True)
    assert 'data-testid="handoff-panel"' in page and f'href="/leads/{org.lead.id}/handoff"' in page
    change_stage(org.lead, Stage.NURTURE, actor=org.rep)
    change_stage(org.lead, Stage.PROPOSE, actor=org.rep)
    page = client.get(f"/leads/{org.lead.id}").get_data(as_text=True)
    assert f'href="/leads/{org.lead.id}/handoff"' not in page
    refused = client.get(f"/leads/{org.lead.id}/handoff", headers={"Referer": f"/leads/{org.lead.id}"},
                         follow_redirects=True)
    assert "Only an open lead in discover or nurture can be handed off" in refused.get_data(as_text=True)


def test_hand_off_form_submits_and_converts_the_meeting_from_the_contacts_zone(client, db_session, org):
    org.lead.contact.timezone = "America/New_York"
    sign_in(client, org.rep)
    form = client.get(f"/leads/{org.lead.id}/handoff").get_data(as_text=True)
    for label in ("Budget", "Authority", "Need", "Timeline", "Notes for the field rep",
                  "Proposed first meeting (contact's local time)", "Field rep"):
        assert label in form
    assert "America/New_York" in form and "Filipa Field (PT)" in form and "Paulo Field" not in form
    resp = client.post(f"/leads/{org.lead.id}/handoff", data={**FORM, "to_user_id": str(org.field.id)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/leads/{org.lead.id}")
    h = db_session.scalar(select(Handoff))
    assert h.status == HandoffStatus.PENDING and h.to_user_id == org.field.id and h.criteria_met == 3
    assert h.proposed_meeting_at == datetime(2030, 1, 15, 14, 30, tzinfo=UTC)
    lead_page = client.get(f"/leads/{org.lead.id}").get_data(as_text=True)
    assert "Handed off to Filipa Field." in lead_page and 'data-testid="lead-handoff-status">pending' in lead_page
    assert "Hand-off submitted by Rita Rep to Filipa Field" in lead_page


def test_form_errors_appear_beside_the_field_and_keep_what_was_typed(client, db_session, org):
    sign_in(client, org.rep)
    wrong = client.post(f"/leads/{org.lead.id}/handoff", data={**FORM, "to_user_id": str(org.rep_other.id)})
    text = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and 'id="to_user_id-error"' in text and "Choose a field-sales rep" in text
    assert 'value="€40k approved"' in text
    gap = client.post(f"/leads/{org.lead.id}/handoff",
                      data={**FORM, "to_user_id": str(org.field.id), "proposed_meeting_at": "2030-03-31T01:30"})
    assert gap.status_code == 422 and 'id="proposed_meeting_at-error"' in gap.get_data(as_text=True)
    no_rule = client.post(f"/leads/{org.lead.id}/handoff", data={**FORM, "to_user_id": ""})
    assert no_rule.status_code == 422 and "the team has no rule" in no_rule.get_data(as_text=True)
    assert _count(db_session) == 0


def test_a_second_hand_off_from_the_form_is_refused(client, db_session, org):
    sign_in(client, org.rep)
    data = {**FORM, "to_user_id": str(org.field.id)}
    assert client.post(f"/leads/{org.lead.id}/handoff", data=data).status_code == 302
    again = client.post(f"/leads/{org.lead.id}/handoff", data=data)
    assert again.status_code == 422 and "already handed off" in again.get_data(as_text=True)
    assert _count(db_session) == 1


def test_field_rep_inbox_shows_the_qualification_and_accepts(client, db_session, org):
    h = hand(org, meeting_at=datetime(2030, 1, 15, 9, 30))
    sign_in(client, org.field)
    inbox = client.get("/handoffs").get_data(as_text=True)
    assert f'data-handoff-id="{h.id}"' in inbox and "CFO signs" in inbox and "Prefers mornings." in inbox
    assert "09:30 (Europe/Lisbon)" in inbox and "10:30 in Europe/Berlin" in inbox  # both zones
    assert f'href="/leads/{org.lead.id}#timeline-heading"' in inbox
    assert "Awaiting approval" not in inbox  # no approval tab for field reps
    assert 'name="next" value="/handoffs?' in inbox  # deciding from the inbox comes back to it
    resp = client.post(f"/handoffs/{h.id}/accept", data={"next": "/handoffs"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/handoffs")
    lead = db_session.get(Lead, org.lead.id)
    assert lead.stage == Stage.PROPOSE and lead.field_owner_id == org.field.id
    assert f'data-handoff-id="{h.id}"' in client.get("/handoffs?tab=accepted").get_data(as_text=True)
    assert f'data-handoff-id="{h.id}"' not in client.get("/handoffs").get_data(as_text=True)
    timeline = client.get(f"/leads/{org.lead.id}").get_data(as_text=True)
    assert "Accepted by Filipa Field" in timeline


def test_sending_back_without_a_reason_shows_the_error_beside_it(client, db_session, org):
    h = hand(org)
    sign_in(client, org.field)
    missing = client.post(f"/handoffs/{h.id}/reject", data={"reason": " "})
    text = missing.get_data(as_text=True)
    assert missing.status_code == 422 and f'id="reason-{h.id}-error"' in text and "A reason is required." in text
    assert f'name="next" value="/handoffs/{h.id}"' in text  # not back to the POST address
    assert db_session.get(Handoff, h.id).status == HandoffStatus.PENDING
    done = client.post(f"/handoffs/{h.id}/reject", data={"reason": "No budget until March"})
    assert done.status_code == 302
    assert "No budget until March" in client.get("/handoffs?tab=rejected").get_data(as_text=True)
    assert db_session.scalar(select(Task.title).where(Task.lead_id == org.lead.id)).startswith("Sent back by")
    twice = client.post(f"/handoffs/{h.id}/accept")
    assert twice.status_code == 409 and "already sent back" in twice.get_data(as_text=True)


def test_someone_elses_hand_off_cannot_be_decided_from_the_page(client, db_session, org):
    h = hand(org)
    sign_in(client, org.rep)
    page = client.get(f"/handoffs/{h.id}").get_data(as_text=True)
    assert "Accept</button>" not in page
    assert client.post(f"/handoffs/{h.id}/accept").status_code == 403
    assert db_session.get(Handoff, h.id).status == HandoffStatus.PENDING


def test_manager_approves_and_refuses_from_the_approval_tab(client, db_session, org):
    from tests import factories as f

    first, second = hand(org, qualification=TWO_MET), hand(org, f.lead(org.rep), qualification=TWO_MET)
    sign_in(client, org.manager)
    queue = client.get("/handoffs?tab=approval").get_data(as_text=True)
    assert f'data-handoff-id="{first.id}"' in queue and f'data-handoff-id="{second.id}"' in queue
    assert "Approve</button>" in queue
    assert 'data-testid="handoffs-awaiting">2<' in client.get("/").get_data(as_text=True)
    assert client.post(f"/handoffs/{first.id}/approve").status_code == 302
    assert db_session.get(Handoff, first.id).status == HandoffStatus.PENDING
    missing = client.post(f"/handoffs/{second.id}/refuse", data={"reason": ""})
    assert missing.status_code == 422 and "A reason is required." in missing.get_data(as_text=True)
    assert client.post(f"/handoffs/{second.id}/refuse", data={"reason": "Who signs?"}).status_code == 302
    assert db_session.get(Handoff, second.id).status == HandoffStatus.CANCELLED
    timeline = client.get(f"/leads/{org.lead.id}").get_data(as_text=True)
    assert "Approved by Marta Manager" in timeline
    assert "Refused by a manager: Who signs?" in client.get(f"/leads/{second.lead_id}").get_data(as_text=True)


def test_the_managers_dashboard_lists_hand_offs_over_the_limit(client, db_session, org):
    h = hand(org, now=datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    assert service.flag_overdue_handoffs(datetime(2026, 12, 2, 8, 0, tzinfo=UTC)) == 1
    sign_in(client, org.manager)
    board = client.get("/").get_data(as_text=True)
    assert 'data-testid="handoffs-overdue">1<' in board and f'href="/handoffs/{h.id}"' in board
    assert 'data-testid="handoff-overdue"' in client.get("/handoffs").get_data(as_text=True)
    assert "Over the acceptance limit" in client.get(f"/leads/{org.lead.id}").get_data(as_text=True)
    sign_in(client, org.manager_porto)
    assert 'data-testid="handoffs-overdue">0<' in client.get("/").get_data(as_text=True)
    sign_in(client, org.rep)
    assert 'data-testid="dashboard-handoffs"' not in client.get("/").get_data(as_text=True)


def test_the_inbox_pages_with_a_cursor_and_ignores_a_bad_one(client, db_session, org, monkeypatch):
    from crm.handoffs import views
    from tests import factories as f

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    made = [hand(org, f.lead(org.rep)) for _ in range(3)]
    sign_in(client, org.field)
    first = client.get("/handoffs").get_data(as_text=True)
    assert f'data-handoff-id="{made[2].id}"' in first and f'data-handoff-id="{made[0].id}"' not in first
    assert "cursor=" in first
    bad = client.get("/handoffs?cursor=nonsense")
    assert bad.status_code == 200 and "That cursor is not one we gave out." in bad.get_data(as_text=True)


def test_the_inbox_query_count_does_not_grow_with_hand_offs(client, db_session, org, count_queries):
    from tests import factories as f

    for _ in range(2):
        hand(org, f.lead(org.rep))
    sign_in(client, org.manager)
    client.get("/handoffs")
    with count_queries() as few:
        client.get("/handoffs")
    for _ in range(6):
        hand(org, f.lead(org.rep))
    with count_queries() as many:
        assert client.get("/handoffs").get_data(as_text=True).count('data-testid="handoff"') == 8
    assert many.count == few.count
