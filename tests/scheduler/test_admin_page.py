"""/admin/jobs: runs, next runs, failures, run now, settings; admins only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy import select

from crm import access
from crm.audit.models import AuditEvent
from crm.auth.models import Role
from crm.scheduler.models import JobRun
from crm.scheduler.service import job_overview
from crm.scheduler.settings import read_setting
from crm.schema import SCHEDULER_TABLE
from tests import factories as f


def sign_in(client, role=Role.ADMIN):
    user = f.user(role, team=f.team())
    assert client.post("/login", data={"email": user.email, "password": f.PASSWORD}).status_code == 302
    return user


@pytest.mark.parametrize("role", [Role.REP, Role.FIELD, Role.MANAGER])
def test_only_admins_see_or_run_jobs(client, db_session, role):
    user = sign_in(client, role)
    assert not access.can_run_jobs(user)
    assert client.get("/admin/jobs").status_code == 403
    assert client.post("/admin/jobs/retention/run").status_code == 403
    assert client.get("/admin/jobs/settings").status_code == 403
    assert db_session.scalars(select(JobRun)).all() == []


def test_signed_out_visitors_are_sent_to_sign_in(client, db_session):
    resp = client.get("/admin/jobs")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_page_lists_every_job_with_last_run_next_run_and_failures(client, db_session):
    admin = sign_in(client)
    assert access.can_run_jobs(admin)
    moment = datetime(2026, 5, 4, 9, 7, tzinfo=UTC)
    db_session.add_all([
        JobRun(job_name="retention", started_at=moment, finished_at=moment, items=4),
        JobRun(job_name="recycle", started_at=moment, finished_at=moment, error="RuntimeError: disk full\n\nTraceback …"),
    ])
    db_session.flush()
    with time_machine.travel(moment, tick=False):
        page = client.get("/admin/jobs")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for name in ("retention", "recycle", "reminders"):
        assert f'data-job="{name}"' in html
    assert 'data-failures="recycle"' in html and "RuntimeError: disk full" in html
    assert 'data-failures="retention"' not in html
    statuses = {s.name: s for s in job_overview(moment)[0]}
    assert statuses["retention"].last_run.items == 4
    assert statuses["reminders"].last_run is None
    assert statuses["retention"].next_run == datetime(2026, 5, 4, 10, 5, tzinfo=UTC)  # from SCHEDULE
    assert not statuses["retention"].next_run_stored
    assert b"Jobs" in client.get("/").data  # in the admin's menu


def test_next_run_comes_from_the_job_store_when_a_scheduler_stored_it(db_session):
    connection = db_session.connection()  # the test's transaction: the table vanishes with it
    SQLAlchemyJobStore(engine=connection.engine, tablename=SCHEDULER_TABLE).jobs_t.create(connection)
    stored_at = datetime(2026, 5, 4, 9, 5, tzinfo=UTC)
    connection.exec_driver_sql(f"INSERT INTO {SCHEDULER_TABLE} (id, next_run_time, job_state) VALUES "
                               f"('retention', {stored_at.timestamp()}, '')")
    statuses = {s.name: s for s in job_overview(datetime(2026, 5, 4, 12, 0, tzinfo=UTC))[0]}
    assert statuses["retention"].next_run == stored_at and statuses["retention"].next_run_stored
    assert statuses["recycle"].next_run == datetime(2026, 5, 4, 12, 35, tzinfo=UTC)
    assert not statuses["recycle"].next_run_stored


def test_run_now_runs_the_job_records_it_and_who_asked(client, db_session):
    admin = sign_in(client)
    resp = client.post("/admin/jobs/retention/run")
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/jobs"
    [run] = db_session.scalars(select(JobRun)).all()
    assert run.job_name == "retention" and run.error == "" and run.items == 0
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "job.run_now"))
    assert event.actor_id == admin.id and event.entity_id == run.id
    assert "retention ran: 0 items." in client.get("/admin/jobs").get_data(as_text=True)


def test_run_now_of_a_failing_job_shows_the_error(client, db_session, app, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULER_EXTRA_JOBS", "tests.scheduler.extra_jobs")
    sign_in(client)
    db_session.commit()
    resp = client.post("/admin/jobs/test-boom/run", follow_redirects=True)
    assert resp.status_code == 200
    assert "test-boom failed: RuntimeError: boom" in resp.get_data(as_text=True)
    assert db_session.scalar(select(JobRun).where(JobRun.job_name == "test-boom")).error


def test_run_now_of_an_unknown_job_is_404(client, db_session):
    sign_in(client)
    assert client.post("/admin/jobs/nope/run").status_code == 404
    assert db_session.scalars(select(JobRun)).all() == []


def test_settings_show_defaults_refuse_bad_input_beside_the_field_and_save_good(client, db_session):
    sign_in(client)
    page = client.get("/admin/jobs/settings").get_data(as_text=True)
    assert 'value="30, 90, 180"' in page and 'value="180"' in page and 'value="30"' in page
    bad = client.post("/admin/jobs/settings", data={"retention_offsets": "90, 30", "retention_repeat_days": "180",
                                                    "recycle_after_days": "0"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert 'id="retention_offsets-error"' in html and "The days must increase" in html
    assert 'id="recycle_after_days-error"' in html and 'value="90, 30"' in html
    assert read_setting("retention.schedule") is None and read_setting("recycle.after_days") is None
    good = client.post("/admin/jobs/settings", data={"retention_offsets": "14, 45, 120", "retention_repeat_days": "90",
                                                     "recycle_after_days": "21"})
    assert good.status_code == 302
    assert read_setting("retention.schedule") == {"offsets_days": [14, 45, 120], "repeat_days": 90}
    assert read_setting("recycle.after_days") == 21
    assert 'value="14, 45, 120"' in client.get("/admin/jobs/settings").get_data(as_text=True)


def test_run_now_when_even_the_run_cannot_be_recorded_says_so(client, db_session, monkeypatch):
    from crm.scheduler import runner

    def database_gone(name, **kwargs):
        raise ConnectionError("could not reach the database")

    sign_in(client)
    monkeypatch.setattr(runner, "run_job", database_gone)
    resp = client.post("/admin/jobs/retention/run", follow_redirects=True)
    assert "retention failed: ConnectionError: could not reach the database" in resp.get_data(as_text=True)
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "job.run_now")) is None
