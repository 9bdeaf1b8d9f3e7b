"""Contact and lead pages: lists, search, forms with errors beside fields, merge, export."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from crm.auth.models import Role
from crm.contacts.models import Account, Contact
from crm.extensions import db
from crm.leads.export import safe_cell
from crm.leads.models import Lead
from crm.touches.service import log_touch
from tests import factories as f


def _sign_in(client, user):
    client.post("/login", data={"email": user.email, "password": f.PASSWORD})


def test_contact_list_searches_and_hides_other_reps_contacts(client, db_session):
    team = f.team()
    rep, other = f.user(Role.REP, team), f.user(Role.REP, team)
    mine = f.lead(rep, contact_obj=f.contact(first_name="Inês", last_name="Ferreira", phone="+351912000111"))
    theirs = f.lead(other, contact_obj=f.contact(first_name="Inês", last_name="Oliveira"))
    _sign_in(client, rep)
    page = client.get("/contacts?q=inês").data.decode()
    assert "Ferreira" in page and "Oliveira" not in page
    assert "Ferreira" in client.get("/contacts?q=912 000 111").data.decode()
    assert "Nobody matches" in client.get("/contacts?q=zzzz").data.decode()
    assert client.get(f"/contacts/{theirs.contact_id}").status_code == 404
    assert client.get(f"/contacts/{mine.contact_id}").status_code == 200


def test_accounts_page_searches_company_names_the_way_the_api_does(client, db_session):
    db.session.add_all([Account(name="Big Andes Ltd"), Account(name="Titan Freight"), Account(name="100% Natural")])
    db.session.flush()
    _sign_in(client, f.user(Role.REP, f.team()))
    page = client.get("/accounts?q=an").data.decode()  # two letters: where a word starts
    assert "Big Andes Ltd" in page and "Titan Freight" not in page
    page = client.get("/accounts?q=%25").data.decode()  # "%" is a character, not a wildcard
    assert "Big Andes Ltd" not in page and "100% Natural" not in page


def test_contact_page_filters_timeline_by_channel_in_constant_queries(client, db_session, count_queries):
    rep = f.user(Role.REP, f.team())
    lead = f.lead(rep)
    for i in range(12):
        log_touch(contact=lead.contact, lead=lead, user=rep, channel="email" if i % 2 else "call",
                  direction="outbound", outcome="sent" if i % 2 else "no_answer", subject=f"mail {i}")
    _sign_in(client, rep)
    page = client.get(f"/contacts/{lead.contact_id}?channel=email").data.decode()
    assert page.count('data-kind="touch"') == 6 and "no answer" not in page
    db_session.expire_all()  # both requests start from the same session state (the tests share one session)
    with count_queries() as few:
        client.get(f"/contacts/{lead.contact_id}")
    for _ in range(30):
        log_touch(contact=lead.contact, lead=lead, user=rep, channel="chat", direction="inbound", outcome="received")
    db_session.expire_all()
    with count_queries() as many:
        client.get(f"/contacts/{lead.contact_id}")
    assert many.count == few.count


def test_new_contact_form_shows_errors_beside_fields_and_recognises_people(client, db_session):
    rep = f.user(Role.REP, f.team())
    _sign_in(client, rep)
    bad = client.post("/contacts/new", data={"first_name": "Rui", "email": "rui@", "phone": "12"})
    assert bad.status_code == 422
    html = bad.data.decode()
    assert 'id="email-error"' in html and 'id="phone-error"' in html
    assert db_session.scalar(select(func.count()).select_from(Contact)) == 0
    ok = client.post("/contacts/new", data={"first_name": "Rui", "email": "rui@example.pt", "phone": "912 345 678"})
    assert ok.status_code == 302
    again = client.post("/contacts/new", data={"first_name": "Rui R.", "phone": "+351912345678"}, follow_redirects=True)
    assert "already exists" in again.data.decode()
    assert db_session.scalar(select(func.count()).select_from(Contact)) == 1


def test_edit_contact_refuses_someone_elses_email(client, db_session):
    rep = f.user(Role.REP, f.team())
    a, b = f.lead(rep), f.lead(rep)
    _sign_in(client, rep)
    resp = client.post(f"/contacts/{b.contact_id}/edit", data={"first_name": "B", "email": a.contact.email})
    assert resp.status_code == 422 and "merge them instead" in resp.data.decode()


def test_manager_merges_from_the_page_rep_may_not(client, db_session):
    team = f.team()
    rep, manager = f.user(Role.REP, team), f.user(Role.MANAGER, team)
    keep, dup = f.lead(rep), f.lead(rep)
    dup_contact = dup.contact_id
    _sign_in(client, rep)
    client.post(f"/contacts/{keep.contact_id}/merge", data={"duplicate_id": str(dup_contact)})
    assert db_session.get(Contact, dup_contact).merged_into_id is None
    client.post("/logout")
    _sign_in(client, manager)
    resp = client.post(f"/contacts/{keep.contact_id}/merge", data={"duplicate_id": f"#{dup_contact}"})
    assert resp.status_code == 302
    db_session.expire_all()
    assert db_session.get(Contact, dup_contact).merged_into_id == keep.contact_id
    assert client.get(f"/contacts/{dup_contact}").status_code == 302  # old links lead to the survivor


def test_new_lead_form_creates_contact_and_lead_or_shows_errors(client, db_session):
    team = f.team()
    rep = f.user(Role.REP, team)
    _sign_in(client, rep)
    missing = client.post("/leads/new", data={"title": "Fibre"})
    assert missing.status_code == 422 and "A first name is required." in missing.data.decode()
    bad_currency = client.post("/leads/new", data={"first_name": "Ana", "currency": "ZZZ"})
    assert bad_currency.status_code == 422 and "ISO 4217" not in bad_currency.data.decode()
    assert "Use a code such as EUR" in bad_currency.data.decode()
    assert db_session.scalar(select(func.count()).select_from(Lead)) == 0
    ok = client.post("/leads/new", data={"first_name": "Ana", "last_name": "Reis", "phone": "912 345 670",
                                         "title": "Fibre for 40 seats", "value": "900", "currency": "EUR"})
    assert ok.status_code == 302
    lead = db_session.scalar(select(Lead))
    assert (lead.title, lead.owner_id, str(lead.value)) == ("Fibre for 40 seats", rep.id, "900.00")


def test_lead_list_filters_and_bad_dates_are_dropped_with_a_message(client, db_session):
    rep = f.user(Role.REP, f.team())
    f.lead(rep, title="Alpha")
    other = f.lead(rep, title="Beta")
    from crm.leads.service import change_stage

    change_stage(other, "nurture", actor=rep)
    _sign_in(client, rep)
    page = client.get("/leads?stage=nurture").data.decode()
    assert "Beta" in page and "Alpha" not in page
    bad = client.get("/leads?created_from=yesterday")
    assert bad.status_code == 200 and "Not a date." in bad.data.decode()


def test_csv_export_is_filtered_scoped_and_formula_safe(client, db_session):
    team = f.team()
    rep, other = f.user(Role.REP, team), f.user(Role.REP, team)
    f.lead(rep, contact_obj=f.contact(first_name="=HYPERLINK(\"http://x\")", last_name="Evil"))
    f.lead(other, contact_obj=f.contact(first_name="Hidden", last_name="Person"))
    _sign_in(client, rep)
    resp = client.get("/export/leads.csv")
    assert resp.mimetype == "text/csv" and "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.data.decode())))
    assert len(rows) == 1 and rows[0]["contact"].startswith("'=HYPERLINK")
    contacts = list(csv.DictReader(io.StringIO(client.get("/export/contacts.csv").data.decode())))
    assert [r["last_name"] for r in contacts] == ["Evil"]
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)" and safe_cell("plain") == "plain" and safe_cell(None) == ""


def test_export_command_writes_a_file(app, db_session, tmp_path):
    from crm.cli import crm_cli

    admin = f.user(Role.ADMIN)
    f.lead(f.user(Role.REP, f.team()), title="Exported")
    out = tmp_path / "leads.csv"
    result = app.test_cli_runner().invoke(crm_cli, ["export", "--what", "leads", "--as-user", admin.email,
                                                    "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "Exported" in out.read_text()
    bad = app.test_cli_runner().invoke(crm_cli, ["export", "--stage", "sideways", "--as-user", admin.email])
    assert bad.exit_code != 0 and "stage" in bad.output
