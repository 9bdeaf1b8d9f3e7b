"""Data requests from the command line: contact-export and contact-erase."""

from __future__ import annotations

import json

import click

from crm.cli import crm_cli, fail
from crm.contacts import privacy
from crm.contacts.models import Contact
from crm.errors import DomainError
from crm.extensions import db


def _contact(contact_id: int) -> Contact:
    contact = db.session.get(Contact, contact_id)
    if contact is None:
        raise click.ClickException(f"No contact #{contact_id}.")
    return contact


@crm_cli.command("contact-export")
@click.argument("contact_id", type=int)
def contact_export(contact_id: int) -> None:
    """Print everything held about a contact as JSON."""
    data = privacy.export_contact(_contact(contact_id), actor=None)
    db.session.commit()
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@crm_cli.command("contact-erase")
@click.argument("contact_id", type=int)
@click.option("--yes", is_flag=True, help="Confirm: this cannot be undone.")
def contact_erase(contact_id: int, yes: bool) -> None:
    """Anonymise a contact's personal data; history counts stay for reports."""
    if not yes:
        raise click.ClickException("Erasing cannot be undone: add --yes to confirm.")
    try:
        privacy.erase_contact(_contact(contact_id), actor=None)
    except DomainError as exc:
        fail(exc)
    db.session.commit()
    click.echo(f"Contact #{contact_id} erased.")
