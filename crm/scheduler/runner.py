"""Finding the jobs in jobs/ and running one: its own session, one commit, a JobRun either way.

A job module follows the contract in jobs/__init__.py. ``run_job`` commits the
job's work together with its JobRun; a job that raises is rolled back whole and
its error recorded, so the next run starts clean and retries.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import current_app
from sqlalchemy import and_, delete, or_

from crm.db import utcnow
from crm.errors import NotFound
from crm.extensions import db
from crm.scheduler.models import JobRun

log = logging.getLogger(__name__)

JOB_PACKAGE = "jobs"
TRIGGERS = {"interval": IntervalTrigger, "cron": CronTrigger, "date": DateTrigger}
# Successful runs that did nothing are kept this long (send-outbox runs every few seconds).
EMPTY_RUN_KEEP = timedelta(days=1)
MAX_ERROR_CHARS = 8000


class UnknownJob(NotFound):
    code = "unknown_job"


@dataclass(frozen=True)
class Job:
    name: str
    schedule: dict
    run: Callable[[datetime], int]
    module: str
    doc: str = ""

    def trigger(self):
        return make_trigger(self.schedule)

    def next_fire_time(self, now: datetime) -> datetime | None:
        return self.trigger().get_next_fire_time(None, now)


@dataclass
class JobCatalogue:
    """Every job found, by name, and the modules that did not load (shown on the admin page)."""

    jobs: dict[str, Job] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)


def make_trigger(schedule: dict):
    """An APScheduler trigger from a job's SCHEDULE; times are UTC unless it names a timezone."""
    kwargs = dict(schedule)
    kind = kwargs.pop("trigger", None)
    if kind not in TRIGGERS:
        raise ValueError(f"SCHEDULE needs a trigger: one of {', '.join(TRIGGERS)} (got {kind!r})")
    if kind in ("cron", "interval"):
        kwargs.setdefault("timezone", UTC)
    return TRIGGERS[kind](**kwargs)


def _job_from_module(module: ModuleType) -> Job | None:
    """The job a module describes, or None when it is not a job module (a shared helper)."""
    name, schedule, run = (getattr(module, attr, None) for attr in ("NAME", "SCHEDULE", "run"))
    if name is None and schedule is None and run is None:
        return None
    if not isinstance(name, str) or not name.strip():
        raise TypeError("NAME must be a non-empty string")
    if not isinstance(schedule, dict):
        raise TypeError("SCHEDULE must be a dict of APScheduler trigger arguments")
    if not callable(run):
        raise TypeError("run(now) must be a function")
    make_trigger(schedule)  # a bad schedule fails here, not in the scheduler
    doc = (module.__doc__ or "").strip().split("\n\n")[0]
    return Job(name=name.strip(), schedule=schedule, run=run, module=module.__name__, doc=" ".join(doc.split()))


def _modules_in(package_name: str) -> list[str]:
    package = importlib.import_module(package_name)
    if not hasattr(package, "__path__"):
        return [package_name]
    return [f"{package_name}.{info.name}" for info in pkgutil.iter_modules(package.__path__) if not info.ispkg]


def discover_jobs(extra: str | None = None) -> JobCatalogue:
    """Job modules in jobs/, plus the comma-separated modules or packages in ``extra``."""
    if extra is None:
        extra = current_app.config.get("SCHEDULER_EXTRA_JOBS", "")
    catalogue = JobCatalogue()
    packages = [JOB_PACKAGE, *(p.strip() for p in extra.split(",") if p.strip())]
    for package in packages:
        try:
            module_names = _modules_in(package)
        except ImportError as exc:
            catalogue.broken[package] = f"cannot import: {exc}"
            continue
        for module_name in module_names:
            try:
                job = _job_from_module(importlib.import_module(module_name))
            except Exception as exc:  # a broken job module must not hide the others
                log.exception("job module %s does not load", module_name)
                catalogue.broken[module_name] = f"{type(exc).__name__}: {exc}"
                continue
            if job is None:
                continue
            if job.name in catalogue.jobs:
                catalogue.broken[module_name] = f"NAME {job.name!r} is already used by {catalogue.jobs[job.name].module}"
                continue
            catalogue.jobs[job.name] = job
    return catalogue


def get_job(name: str, catalogue: JobCatalogue | None = None) -> Job:
    catalogue = catalogue or discover_jobs()
    job = catalogue.jobs.get(name)
    if job is None:
        known = ", ".join(sorted(catalogue.jobs)) or "none"
        raise UnknownJob(f"There is no job named {name!r}. Jobs: {known}.", fields={"name": "Unknown job."})
    return job


def run_job(name: str, *, now: datetime | None = None) -> JobRun:
    """Run job ``name`` once in the current session and commit: its work and its JobRun together.

    A job that raises is rolled back whole; its JobRun is then committed alone with the error.
    """
    job = get_job(name)
    started = utcnow()
    clock = time.monotonic()
    try:
        items = job.run(now or started)
        if isinstance(items, bool) or not isinstance(items, int) or items < 0:
            raise TypeError(f"{job.module}.run returned {items!r}; it must return how many items it did")
        run = JobRun(job_name=name, started_at=started, finished_at=utcnow(), items=items)
        db.session.add(run)
        _prune(name, started)
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        log.exception("job %s failed", name)
        run = JobRun(job_name=name, started_at=started, finished_at=utcnow(), items=0, error=_describe(exc))
        db.session.add(run)
        db.session.commit()
        return run
    log.info("job %s: %d items in %.2f s", name, items, time.monotonic() - clock)
    return run


@dataclass(frozen=True)
class RunOutcome:
    run_id: int | None
    items: int
    error: str


def run_job_apart(app, name: str) -> RunOutcome:
    """Run a job now from a page: on its own thread in a fresh app context, so in its own session.

    The caller's session, its signed-in user and its request are untouched, exactly as
    when the scheduler runs the job.
    """
    outcome: list[RunOutcome] = []

    def work():
        with app.app_context():
            try:
                run = run_job(name)
            except Exception as exc:  # the JobRun could not even be written (database down)
                log.exception("job %s could not run", name)
                outcome.append(RunOutcome(None, 0, f"{type(exc).__name__}: {exc}"))
            else:
                outcome.append(RunOutcome(run.id, run.items, run.error))

    thread = threading.Thread(target=work, name=f"run-now-{name}")
    thread.start()
    thread.join()
    return outcome[0]


def _describe(exc: Exception) -> str:
    """The error as admins read it: the message first, then the traceback."""
    text = f"{type(exc).__name__}: {exc}\n\n" + "".join(traceback.format_exception(exc))
    return text[:MAX_ERROR_CHARS]


def _prune(name: str, now: datetime) -> None:
    """Forget this job's old runs: all after JOB_RUN_KEEP_DAYS, empty successful ones after a day."""
    keep_days = current_app.config.get("JOB_RUN_KEEP_DAYS", 30)
    db.session.execute(delete(JobRun).where(
        JobRun.job_name == name,
        or_(JobRun.started_at < now - timedelta(days=keep_days),
            and_(JobRun.started_at < now - EMPTY_RUN_KEEP, JobRun.items == 0, JobRun.error == "")),
    ))
