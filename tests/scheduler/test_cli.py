"""crm run-job NAME and crm jobs."""

from __future__ import annotations

from sqlalchemy import select

from crm.cli import crm_cli
from crm.scheduler.models import JobRun


def test_run_job_runs_it_now_and_records_the_run(app, db_session):
    result = app.test_cli_runner().invoke(crm_cli, ["run-job", "recycle"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("recycle: 0 items in ")
    assert db_session.scalar(select(JobRun.job_name)) == "recycle"


def test_unknown_job_is_a_clear_error_listing_the_jobs(app, db_session):
    result = app.test_cli_runner().invoke(crm_cli, ["run-job", "cadences"])
    assert result.exit_code != 0
    assert "There is no job named 'cadences'. Jobs:" in result.output
    assert "recycle" in result.output and "reminders" in result.output and "retention" in result.output
    assert db_session.scalars(select(JobRun)).all() == []


def test_a_failing_job_exits_1_with_its_error_and_is_recorded(app, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULER_EXTRA_JOBS", "tests.scheduler.extra_jobs")
    result = app.test_cli_runner().invoke(crm_cli, ["run-job", "test-boom"])
    assert result.exit_code == 1
    assert "test-boom failed" in result.output and "RuntimeError: boom" in result.output
    assert db_session.scalar(select(JobRun.error).where(JobRun.job_name == "test-boom"))


def test_jobs_lists_names_schedules_and_broken_modules(app, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULER_EXTRA_JOBS", "tests.scheduler.broken_jobs")
    result = app.test_cli_runner().invoke(crm_cli, ["jobs"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert any(line.startswith("reminders") and "cron[minute='*/15']" in line for line in lines)
    assert any(line.startswith("NOT LOADED tests.scheduler.broken_jobs.bad_schedule") for line in lines)
