"""`crm scheduler` (the job process), `crm run-job NAME` (one job, now) and `crm jobs` (the list)."""

from __future__ import annotations

import logging
import sys
from datetime import UTC

import click
from flask import current_app

from crm.cli import crm_cli
from crm.db import utcnow
from crm.scheduler.runner import UnknownJob, discover_jobs, run_job


@crm_cli.command("scheduler")
def scheduler_command() -> None:
    """Run the scheduled jobs (one leader per database; others wait as standbys)."""
    from crm.scheduler.process import LeadershipLost, serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    try:
        serve(current_app._get_current_object())
    except LeadershipLost as exc:
        raise click.ClickException(f"{exc}; restart the process to stand by again") from exc


@crm_cli.command("run-job")
@click.argument("name")
def run_job_command(name: str) -> None:
    """Run job NAME once, now, and record the run (exit status 1 if it failed)."""
    try:
        run = run_job(name)
    except UnknownJob as exc:
        raise click.ClickException(exc.message) from exc
    seconds = (run.finished_at - run.started_at).total_seconds()
    if run.error:
        click.echo(f"{name} failed after {seconds:.1f} s:\n{run.error}", err=True)
        sys.exit(1)
    click.echo(f"{name}: {run.items} items in {seconds:.1f} s")


@crm_cli.command("jobs")
def list_jobs_command() -> None:
    """List the jobs with their schedule and next time."""
    catalogue = discover_jobs()
    now = utcnow()
    for name, job in sorted(catalogue.jobs.items()):
        next_time = job.next_fire_time(now)
        when = f"{next_time.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if next_time else "never"
        click.echo(f"{name:<16} {job.trigger()!s:<40} next {when}  ({job.module})")
    for module, problem in sorted(catalogue.broken.items()):
        click.echo(f"NOT LOADED {module}: {problem}", err=True)
