"""flask --app wsgi crm send-outbox: drain the outbox once (the scheduler runs it every few seconds)."""

from __future__ import annotations

import click

from crm.cli import crm_cli
from crm.extensions import db


@crm_cli.command("send-outbox")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after this many messages.")
def send_outbox_command(limit: int | None) -> None:
    """Send every due queued email now, then print what happened."""
    from crm.email.sender import drain

    report = drain(limit=limit)
    db.session.commit()
    click.echo(f"sent {report.sent}, retrying {report.retrying}, failed {report.failed}, "
               f"not sent (no API key) {report.not_sent}, suppressed {report.suppressed}, "
               f"outcome unknown {report.unknown}")
    for error in report.errors:
        click.echo(f"  {error}", err=True)
