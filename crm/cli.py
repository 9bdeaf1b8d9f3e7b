"""The `crm` command group: flask --app wsgi crm …

Each command commits once at the end; a failure rolls everything back.
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from crm.errors import DomainError
from crm.extensions import db

crm_cli = AppGroup("crm", help="Touchline administration.")


def fail(exc: DomainError) -> None:
    db.session.rollback()
    detail = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
    raise click.ClickException(exc.message + (f" ({detail})" if detail and detail not in exc.message else ""))


@crm_cli.command("migrate")
@click.option("--revision", default="head", show_default=True)
def migrate(revision: str) -> None:
    """Upgrade the database to the newest revision."""
    from crm.schema import upgrade

    upgrade(db.engine, revision)
    click.echo(f"Database at {revision}: {db.engine.url.render_as_string(hide_password=True)}")
    if revision == "head":
        from crm.cadences.defaults import ensure_defaults

        made = ensure_defaults()  # the default cadence and its follow-up email, once
        db.session.commit()
        if made["cadence"] or made["templates"]:
            click.echo(f"Added the default cadence ({made['cadence'] or 'kept yours'}) and "
                       f"{made['templates']} follow-up email template(s).")


@crm_cli.command("create-user")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(["rep", "field", "manager", "admin"]))
@click.option("--team", default=None, help="Team name; created if it does not exist.")
@click.option("--name", default=None)
@click.option("--timezone", default="UTC", show_default=True)
@click.option("--locale", default="en", show_default=True)
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
def create_user_command(email, role, team, name, timezone, locale, password_stdin) -> None:
    """Create a user with the password given on standard input."""
    from crm.auth.service import create_user

    password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = create_user(email, password, role, name=name, team=team, timezone=timezone, locale=locale)
    except DomainError as exc:
        fail(exc)
    db.session.commit()
    click.echo(f"Created {user.role.value} {user.email} (id {user.id})" + (f" in team {team}" if team else ""))


@crm_cli.command("create-token")
@click.argument("email")
@click.option("--name", default="cli", show_default=True)
def create_token_command(email, name) -> None:
    """Print a new API token for EMAIL (on the last line); only its hash is stored."""
    from sqlalchemy import select

    from crm.auth.models import User
    from crm.auth.service import create_token

    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"No user with email {email}.")
    token = create_token(user, name)
    db.session.commit()
    click.echo(f"Token for {user.email} (keep it secret; it is shown once):")
    click.echo(token)
