"""CSV import: formats, header names, validation per row, batches, reruns, the page and the CLI."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from crm.auth.models import Role
from crm.cli import crm_cli
from crm.contacts.models import Contact
from crm.imports import service
from crm.imports.models import ImportJob
from crm.leads.models import Lead, StageChange
from tests import factories as f

HUBSPOT = ("First Name,Last Name,Email,Phone Number,Company Name,Original Source,Country\n"
           "Ana,Sousa,ana@example.pt,912 345 678,Sousa Lda,web,PT\n"
           "Ion,Popescu,ion@example.ro,0722 123 456,Carpați SRL,fair,RO\n"
           "Bad,Email,not-an-email,,,web,PT\n"
           "Nobody,,,,,web,PT\n"
           "Ana,S.,ANA@example.pt,,,web,PT\n")


def _write(tmp_path, text: str, encoding="utf-8", name="in.csv") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


@pytest.mark.parametrize("encoding, expected", [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"),
                                                ("cp1251", "cp1251"), ("latin-1", "latin-1")])
def test_encodings_are_detected(tmp_path, encoding, expected):
    names = {"cp1251": "Наталья;Смирнова;natalia@example.ru\nАлексей;Иванов;alexei@example.ru\n",
             "latin-1": "João;Gonçalves;joao@example.pt\nInês;Conceição;ines@example.pt\n"}
    body = names.get(encoding, "Ștefan;Dumitru;stefan@example.ro\nJoão;Gonçalves;joao@example.pt\n")
    path = _write(tmp_path, "First Name;Last Name;Email\n" + body, encoding)
    sniffed = service.sniff(path)
    assert sniffed.encoding == expected and sniffed.delimiter == ";"
    rows = list(service.iter_rows(path, sniffed.encoding, sniffed.delimiter))
    assert rows[0][1][0] == body.split(";")[0]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiters_and_crm_header_names(tmp_path, delimiter):
    headers = ["FirstName", "LastName", "Email Address", "MobilePhone", "Account Name", "LeadSource", "Amount",
               "CurrencyIsoCode", "Owner Email", "DoNotCall", "HasOptedOutOfEmail"]
    path = _write(tmp_path, delimiter.join(headers) + "\n" + delimiter.join(["a"] * len(headers)) + "\n")
    sniffed = service.sniff(path)
    assert sniffed.delimiter == delimiter
    assert list(sniffed.mapping.values()) == ["first_name", "last_name", "email", "phone", "account", "source",
                                              "value", "currency", "owner_email", "do_not_call", "email_opt_out"]


def test_empty_and_binary_files_are_refused(tmp_path):
    with pytest.raises(service.ValidationFailed):
        service.sniff(_write(tmp_path, "   \n"))
    path = tmp_path / "x.csv"
    path.write_bytes(b"PK\x03\x04\x00\x00binary")
    with pytest.raises(service.ValidationFailed):
        service.sniff(str(path))


def test_mapping_needs_a_name_and_a_way_to_recognise_people():
    with pytest.raises(service.ValidationFailed):
        service.check_mapping({"0": "email"})
    with pytest.raises(service.ValidationFailed):
        service.check_mapping({"0": "first_name"})
    with pytest.raises(service.ValidationFailed):
        service.check_mapping({"0": "first_name", "1": "email", "2": "email"})
    service.check_mapping({"0": "full_name", "1": "phone"})


def _run_cli(app, path, *args):
    return app.test_cli_runner().invoke(crm_cli, ["import", path, *args])


def test_cli_imports_good_rows_reports_bad_ones_and_a_rerun_adds_nothing(app, db_session, tmp_path):
    team = f.team("Lisbon")
    rep = f.user(Role.REP, team)
    f.user(Role.ADMIN)
    path = _write(tmp_path, HUBSPOT)
    result = _run_cli(app, path, "--team", "Lisbon")
    assert result.exit_code == 0, result.output
    assert "2 leads created, 1 already there, 2 rejected." in result.output
    contacts = db_session.scalars(select(Contact).order_by(Contact.id)).all()
    assert [(c.first_name, c.phone, c.country) for c in contacts] == [("Ana", "+351912345678", "PT"),
                                                                      ("Ion", "+40722123456", "RO")]
    leads = db_session.scalars(select(Lead)).all()
    assert {lead.owner_id for lead in leads} == {rep.id} and all(lead.source.name == "web" or lead.source.name == "fair"
                                                                for lead in leads)
    assert db_session.scalar(select(func.count()).select_from(StageChange)) == 2
    with open(path + ".rejects.csv", encoding="utf-8") as fh:
        rejects = list(csv.reader(fh))
    assert rejects[0][:2] == ["row", "reason"]
    assert [r[0] for r in rejects[1:]] == ["4", "5"] and "email" in rejects[1][1]
    again = _run_cli(app, path, "--team", "Lisbon")
    assert "0 leads created, 3 already there, 2 rejected." in again.output
    assert db_session.scalar(select(func.count()).select_from(Lead)) == 2


def test_dry_run_writes_nothing(app, db_session, tmp_path):
    f.team("Lisbon")
    result = _run_cli(app, _write(tmp_path, HUBSPOT), "--dry-run")
    assert result.exit_code == 0 and "2 leads would be created" in result.output
    assert db_session.scalar(select(func.count()).select_from(Contact)) == 0


def test_unknown_owner_and_campaign_are_per_row_errors(app, db_session, tmp_path):
    f.team("Lisbon")
    body = "Name,Email,Owner Email,Campaign\nAna Sousa,ana@example.pt,ghost@example.com,\nRui Reis,rui@example.pt,,Nope\n"
    result = _run_cli(app, _write(tmp_path, body))
    assert "0 leads created, 0 already there, 2 rejected." in result.output
    assert db_session.scalar(select(func.count()).select_from(Contact)) == 0


def test_cli_map_option_and_bad_column(app, db_session, tmp_path):
    f.team("Lisbon")
    path = _write(tmp_path, "Nome,Telemóvel\nAna,912345678\n")
    assert _run_cli(app, path, "--map", "Nope=phone").exit_code != 0
    ok = _run_cli(app, path, "--map", "Nome=first_name", "--map", "Telemóvel=phone")
    assert ok.exit_code == 0 and "1 leads created" in ok.output


def test_many_rows_in_several_batches_keep_memory_to_a_batch(app, db_session, tmp_path, monkeypatch):
    monkeypatch.setattr(service, "BATCH_ROWS", 50)
    team = f.team("Lisbon")
    reps = [f.user(Role.REP, team) for _ in range(3)]
    rows = "".join(f"P{i},Q{i},p{i}@example.com\n" for i in range(230))
    result = _run_cli(app, _write(tmp_path, "First Name,Last Name,Email\n" + rows), "--team", "Lisbon")
    assert "230 leads created" in result.output
    per_rep = dict(db_session.execute(select(Lead.owner_id, func.count()).group_by(Lead.owner_id)).all())
    assert sorted(per_rep.values()) == [76, 77, 77] and set(per_rep) == {r.id for r in reps}


def _sign_in(client, user):
    client.post("/login", data={"email": user.email, "password": f.PASSWORD})


def test_import_page_upload_map_step_and_rejects(client, db_session, tmp_path, app):
    team = f.team("Lisbon")
    f.user(Role.REP, team)
    manager = f.user(Role.MANAGER, team)
    _sign_in(client, manager)
    resp = client.post("/imports", data={"file": (io.BytesIO(HUBSPOT.encode()), "leads.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 302
    job = db_session.scalar(select(ImportJob))
    page = client.get(f"/imports/{job.id}").data.decode()
    assert "Which field is each column?" in page and "ana@example.pt" in page
    bad = client.post(f"/imports/{job.id}/start", data={"col-0": "first_name"})
    assert bad.status_code == 422 and "email or a phone" in bad.data.decode()
    form = {f"col-{i}": v for i, v in job.mapping.items()}
    assert client.post(f"/imports/{job.id}/start", data=form).status_code == 302
    progress = client.post(f"/imports/{job.id}/step").json
    assert progress == {"status": "done", "status_label": "done", "rows_read": 5, "created": 2, "existing": 1, "rejected": 2}
    rejects = client.get(f"/imports/{job.id}/rejects.csv").data.decode()
    assert rejects.startswith("row,reason") and "not-an-email" in rejects


def test_import_page_refuses_bad_files_and_non_managers(client, db_session):
    team = f.team()
    rep = f.user(Role.REP, team)
    _sign_in(client, rep)
    assert client.get("/imports").status_code == 403
    client.post("/logout")
    _sign_in(client, f.user(Role.MANAGER, team))
    pdf = client.post("/imports", data={"file": (io.BytesIO(b"%PDF"), "x.pdf")}, content_type="multipart/form-data")
    assert pdf.status_code == 422 and "Only .csv" in pdf.data.decode()
    empty = client.post("/imports", data={"file": (io.BytesIO(b""), "x.csv")}, content_type="multipart/form-data")
    assert empty.status_code == 422 and "empty" in empty.data.decode()
    none = client.post("/imports", data={}, content_type="multipart/form-data")
    assert none.status_code == 422


def test_oversized_upload_is_413(client, db_session, app, monkeypatch):
    _sign_in(client, f.user(Role.MANAGER, f.team()))
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    resp = client.post("/imports", data={"file": (io.BytesIO(b"x" * 5000), "big.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 413
