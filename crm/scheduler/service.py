"""What the admin page shows about the jobs: last run, next run, recent failures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from apscheduler.util import utc_timestamp_to_datetime
from sqlalchemy import Column, Float, MetaData, Table, Unicode, func, inspect, select

from crm.extensions import db
from crm.scheduler.models import JobRun
from crm.scheduler.runner import Job, discover_jobs
from crm.schema import SCHEDULER_TABLE

FAILURES_SHOWN = 5

# Only the columns we read of APScheduler's table (it is not in our metadata).
_job_table = Table(SCHEDULER_TABLE, MetaData(), Column("id", Unicode(191), primary_key=True),
                   Column("next_run_time", Float(25)))


@dataclass
class JobStatus:
    job: Job
    last_run: JobRun | None
    next_run: datetime | None
    next_run_stored: bool  # True: from the running scheduler's job store; False: computed from SCHEDULE
    failures: list[JobRun] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.job.name


def stored_next_runs() -> dict[str, datetime | None]:
    """Next run per job id as the scheduler stored it; empty before a scheduler ever started."""
    connection = db.session.connection()
    if not inspect(connection).has_table(SCHEDULER_TABLE):
        return {}
    return {row.id: utc_timestamp_to_datetime(row.next_run_time)
            for row in connection.execute(select(_job_table.c.id, _job_table.c.next_run_time))}


def job_overview(now: datetime) -> tuple[list[JobStatus], dict[str, str]]:
    """Every job's status, and the job modules that did not load (module → problem)."""
    catalogue = discover_jobs()
    names = list(catalogue.jobs)
    last_ids = select(func.max(JobRun.id)).where(JobRun.job_name.in_(names)).group_by(JobRun.job_name)
    last_runs = {r.job_name: r for r in db.session.scalars(select(JobRun).where(JobRun.id.in_(last_ids)))}
    ranked = select(JobRun.id, func.row_number().over(partition_by=JobRun.job_name,
                                                      order_by=JobRun.id.desc()).label("rank")) \
        .where(JobRun.job_name.in_(names), JobRun.error != "").subquery()
    failures: dict[str, list[JobRun]] = {}
    for run in db.session.scalars(select(JobRun).join(ranked, ranked.c.id == JobRun.id)
                                  .where(ranked.c.rank <= FAILURES_SHOWN).order_by(JobRun.id.desc())):
        failures.setdefault(run.job_name, []).append(run)
    stored = stored_next_runs()
    statuses = []
    for name in sorted(names):
        job = catalogue.jobs[name]
        in_store = name in stored
        statuses.append(JobStatus(job=job, last_run=last_runs.get(name),
                                  next_run=stored[name] if in_store else job.next_fire_time(now),
                                  next_run_stored=in_store, failures=failures.get(name, [])))
    return statuses, catalogue.broken
