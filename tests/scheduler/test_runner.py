"""Finding jobs and running one: a JobRun each time, one commit, a failure rolled back and recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from crm.audit.models import AuditEvent
from crm.scheduler.models import JobRun
from crm.scheduler.runner import UnknownJob, discover_jobs, make_trigger, run_job
from crm.scheduler.settings import write_setting

EXTRA = "tests.scheduler.extra_jobs"


@pytest.fixture
def extra_jobs(app, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULER_EXTRA_JOBS", EXTRA)


def _runs(db_session, name):
    return db_session.scalars(select(JobRun).where(JobRun.job_name == name).order_by(JobRun.id)).all()


def _marks(db_session, action):
    return db_session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def test_discovers_every_job_module_in_jobs(app):
    catalogue = discover_jobs()
    assert {"retention", "recycle", "reminders"} <= set(catalogue.jobs)
    assert catalogue.broken == {}
    retention = catalogue.jobs["retention"]
    assert retention.module == "jobs.retention" and retention.schedule == {"trigger": "cron", "minute": 5}
    assert retention.doc.startswith("Retention callbacks")


def test_extra_packages_add_jobs(app, extra_jobs):
    assert {"test-tick", "test-boom", "test-minutely"} <= set(discover_jobs().jobs)


def test_modules_breaking_the_contract_are_reported_not_scheduled(app):
    catalogue = discover_jobs("tests.scheduler.broken_jobs, tests.scheduler.no_such_package")
    broken = catalogue.broken
    assert "unknown" not in catalogue.jobs and "no-run" not in catalogue.jobs
    assert "trigger" in broken["tests.scheduler.broken_jobs.bad_schedule"]
    assert "run(now)" in broken["tests.scheduler.broken_jobs.no_run"]
    assert "cannot be imported" in broken["tests.scheduler.broken_jobs.explodes_on_import"]
    assert "already used by jobs.retention" in broken["tests.scheduler.broken_jobs.same_name"]
    assert "cannot import" in broken["tests.scheduler.no_such_package"]
    assert "tests.scheduler.broken_jobs.helper" not in broken  # not a job: ignored
    assert catalogue.jobs["retention"].module == "jobs.retention"  # the real one keeps its name


def test_schedule_times_are_utc_unless_the_job_names_a_zone():
    now = datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    assert make_trigger({"trigger": "cron", "hour": 7, "minute": 0}).get_next_fire_time(None, now) == \
        datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    lisbon = make_trigger({"trigger": "cron", "hour": 7, "minute": 0, "timezone": "Europe/Lisbon"})
    assert lisbon.get_next_fire_time(None, now).astimezone(UTC) == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="trigger"):
        make_trigger({"minutes": 5})


def test_a_run_commits_its_work_with_its_record(app, db_session, extra_jobs):
    with time_machine.travel(datetime(2026, 1, 5, 9, 0, tzinfo=UTC), tick=False):
        run = run_job("test-tick")
    assert run.id and run.items == 1 and run.error == ""
    assert run.started_at == run.finished_at == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    db_session.rollback()  # nothing left uncommitted: the runner's commit kept it all
    assert _marks(db_session, "test.tick") == 1 and len(_runs(db_session, "test-tick")) == 1


def test_a_job_that_raises_is_recorded_rolled_back_and_retried_next_time_while_others_run(app, db_session, extra_jobs):
    failed = run_job("test-boom")
    assert failed.error.startswith("RuntimeError: boom: the test job fails on purpose")
    assert "Traceback" in failed.error and failed.items == 0 and failed.finished_at
    assert _marks(db_session, "test.boom") == 0  # its half-done work is gone
    assert run_job("test-tick").error == ""  # another job is not affected
    write_setting("test.boom", "ok", actor=None)
    db_session.commit()
    retried = run_job("test-boom")
    assert retried.error == "" and retried.items == 1
    assert [bool(r.error) for r in _runs(db_session, "test-boom")] == [True, False]
    assert _marks(db_session, "test.boom") == 1


def test_a_job_must_return_a_count(app, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULER_EXTRA_JOBS", "tests.scheduler.broken_jobs")
    run = run_job("returns-text")
    assert "it must return how many items it did" in run.error


def test_unknown_job_names_the_jobs(app):
    with pytest.raises(UnknownJob) as exc:
        run_job("retension")
    assert "retension" in exc.value.message and "retention" in exc.value.message and "reminders" in exc.value.message


def test_old_and_empty_runs_are_pruned_failures_kept_longer(app, db_session, extra_jobs):
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    old = [JobRun(job_name="test-tick", started_at=now - timedelta(days=40), finished_at=now - timedelta(days=40), items=3),
           JobRun(job_name="test-tick", started_at=now - timedelta(days=2), finished_at=now - timedelta(days=2), items=0),
           JobRun(job_name="test-tick", started_at=now - timedelta(days=2), finished_at=now - timedelta(days=2), items=0,
                  error="RuntimeError: kept"),
           JobRun(job_name="test-tick", started_at=now - timedelta(days=2), finished_at=now - timedelta(days=2), items=5),
           JobRun(job_name="other", started_at=now - timedelta(days=40), finished_at=now - timedelta(days=40))]
    db_session.add_all(old)
    db_session.commit()
    with time_machine.travel(now, tick=False):
        run_job("test-tick")
    kept = [(r.items, r.error) for r in _runs(db_session, "test-tick")]
    assert kept == [(0, "RuntimeError: kept"), (5, ""), (1, "")]
    assert len(_runs(db_session, "other")) == 1  # other jobs prune their own
