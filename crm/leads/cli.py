"""crm export: the filtered lists as CSV, from the command line."""

from __future__ import annotations

import sys

import click
from pydantic import ValidationError
from sqlalchemy import select

from crm.auth.models import Role, User
from crm.cli import crm_cli
from crm.extensions import db
from crm.leads import export
from crm.leads.filters import LeadFilters


@crm_cli.command("export")
@click.option("--what", type=click.Choice(["leads", "contacts", "touches"]), default="leads", show_default=True)
@click.option("--as-user", "as_user", default=None, help="Export what this user may see (default: the first admin).")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), default=None, help="File (default: stdout).")
@click.option("--stage", default=None)
@click.option("--status", default=None)
@click.option("--owner-id", type=int, default=None)
@click.option("--source", default=None)
@click.option("--campaign", default=None)
@click.option("--created-from", default=None, help="YYYY-MM-DD")
@click.option("--created-to", default=None, help="YYYY-MM-DD")
@click.option("-q", "query", default=None, help="Name, company, email or phone")
def export_command(what, as_user, output, query, **filters) -> None:
    """Write leads, contacts or touches as CSV (safe against spreadsheet formulas)."""
    stmt = select(User).where(User.email == as_user.lower()) if as_user else \
        select(User).where(User.role == Role.ADMIN, User.active.is_(True)).order_by(User.id).limit(1)
    user = db.session.scalar(stmt)
    if user is None:
        raise click.ClickException("No such user (or no admin yet): pass --as-user EMAIL.")
    try:
        parsed = LeadFilters.model_validate({**{k: v for k, v in filters.items() if v is not None}, "q": query})
    except ValidationError as exc:
        raise click.ClickException("; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())) from exc
    chunks = export.contacts_csv(user, query) if what == "contacts" else \
        export.touches_csv(user, parsed) if what == "touches" else export.leads_csv(user, parsed)
    out = open(output, "w", newline="", encoding="utf-8") if output else sys.stdout  # noqa: SIM115
    try:
        for chunk in chunks:
            out.write(chunk)
    finally:
        if output:
            out.close()
