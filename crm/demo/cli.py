"""seed-demo and demo-logins."""

from __future__ import annotations

import click

from crm.cli import crm_cli
from crm.demo.seed import DEMO_PASSWORD, DEMO_USERS, already_seeded, seed
from crm.extensions import db


@crm_cli.command("seed-demo")
@click.option("--leads", "leads_count", default=2000, show_default=True, help="How many demo leads.")
def seed_demo(leads_count: int) -> None:
    """Load the demo organisation once; a second run adds nothing."""
    if already_seeded():
        click.echo("Demo data is already loaded; nothing added.")
        return
    with click.progressbar(length=leads_count, label="Loading demo leads") as bar:
        result = seed(leads_count, progress=bar.update)
    db.session.commit()
    click.echo(f"Demo loaded: {result['users']} users, {result['leads']} leads with 90 days of history.")


@crm_cli.command("demo-logins")
def demo_logins() -> None:
    """Print the demo sign-ins."""
    click.echo("\nTouchline is at http://127.0.0.1:5000 — demo sign-ins (password for all: "
               f"{DEMO_PASSWORD}):")
    for email, name, role, *_ in DEMO_USERS:
        click.echo(f"  {role.value:<8} {email:<28} {name}")
    click.echo("")
