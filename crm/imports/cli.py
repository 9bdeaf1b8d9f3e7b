"""crm import FILE: the same import as the page, from the command line."""

from __future__ import annotations

import click
from sqlalchemy import select

from crm.auth.models import Role, Team, User
from crm.auth.service import get_or_create_team
from crm.cli import crm_cli, fail
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.imports import service


def _count_rows(path: str, encoding: str, delimiter: str) -> int:
    return sum(1 for _ in service.iter_rows(path, encoding, delimiter))


@crm_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Validate every row and report, writing nothing.")
@click.option("--team", default=None, help="Team whose reps get the new leads (round-robin).")
@click.option("--map", "overrides", multiple=True, metavar="COLUMN=FIELD",
              help="Map a column (by header name) to a field, e.g. --map 'Telemóvel=phone'.")
@click.option("--rejects", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Where to write rejected rows (default: FILE.rejects.csv).")
def import_command(path, dry_run, team, overrides, rejects) -> None:
    """Import contacts and leads from a CSV file. Safe to rerun: nothing is created twice."""
    try:
        sniffed = service.sniff(path)
        mapping = dict(sniffed.mapping)
        for item in overrides:
            column, _, name = item.partition("=")
            if column not in sniffed.headers:
                raise ValidationFailed(f"No column {column!r}; the file has: {', '.join(sniffed.headers)}.")
            mapping = {k: v for k, v in mapping.items() if v != name}
            mapping[str(sniffed.headers.index(column))] = name
        service.check_mapping(mapping)
    except ValidationFailed as exc:
        fail(exc)
    admin = db.session.scalar(select(User).where(User.role == Role.ADMIN).order_by(User.id).limit(1))
    team_id = get_or_create_team(team).id if team else db.session.scalar(select(Team.id).order_by(Team.id).limit(1))
    click.echo(f"{path}: {sniffed.encoding}, delimiter {sniffed.delimiter!r}; columns → fields:")
    for index, name in sorted(mapping.items(), key=lambda kv: int(kv[0])):
        click.echo(f"  {sniffed.headers[int(index)]!r} → {name}")
    total = _count_rows(path, sniffed.encoding, sniffed.delimiter)
    created = existing = 0
    rejected: list = []
    with click.progressbar(length=total, label="Importing" if not dry_run else "Checking") as bar:
        for size, result in service.import_file(path, mapping, encoding=sniffed.encoding, delimiter=sniffed.delimiter,
                                                actor=admin, team_id=team_id, dry_run=dry_run,
                                                parallel=total > 2 * service.BATCH_ROWS):
            if dry_run:
                db.session.rollback()
            else:
                db.session.commit()
            created, existing = created + result.created, existing + result.existing
            rejected += result.rejected
            bar.update(size)
    verb = "would be created" if dry_run else "created"
    click.echo(f"{created} leads {verb}, {existing} already there, {len(rejected)} rejected.")
    if rejected:
        target = rejects or f"{path}.rejects.csv"
        with open(target, "w", encoding="utf-8", newline="") as fh:
            fh.write(service.rejects_csv(rejected, sniffed.headers, with_header=True))
        click.echo(f"Rejected rows, with the reason for each: {target}")
