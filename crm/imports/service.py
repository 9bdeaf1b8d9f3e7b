"""CSV import of contacts and leads: streamed, validated row by row, written in batches.

- Any usual file: UTF-8 with or without BOM, Windows-1251, Latin-1; comma, semicolon or tab.
- Header names as HubSpot, Salesforce, Pipedrive and Close export them map to our fields.
- Each row is validated with the same functions as the pages and API; a bad row is
  reported with its number and reason and nothing of it is written.
- A person is recognised by email or phone, and an open lead for the same person,
  source and campaign is not created twice, so running the same file again adds nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import func, insert, select

from crm.access import new_lead_access_key
from crm.audit.service import record
from crm.auth.models import User
from crm.cadences.service import enroll_many
from crm.contacts.folding import name_key
from crm.contacts.models import Account, Contact
from crm.contacts.service import clean_contact_fields
from crm.db import bulk_insert, exact_index_lookups, is_postgresql, utcnow
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.leads.models import Campaign, Lead, LeadStatus, Stage, StageChange
from crm.leads.service import check_currency, check_value, get_or_create_source
from crm.queue.assignment import pick_owners
from crm.schema import ACCESS_KEYS

FIELDS = ("first_name", "last_name", "full_name", "email", "phone", "account", "country", "timezone", "locale",
          "source", "campaign", "value", "currency", "title", "owner_email", "do_not_call", "email_opt_out")

# Header names (normalised: lower case, letters and digits only) as other CRMs export them.
ALIASES = {
    "first_name": ["firstname", "first", "givenname", "contactfirstname", "personfirstname", "prenom", "nome",
                   "primeironome", "prenume", "имя"],
    "last_name": ["lastname", "last", "surname", "familyname", "contactlastname", "personlastname", "apelido",
                  "sobrenome", "nume", "фамилия"],
    "full_name": ["name", "fullname", "contactname", "personname", "contact", "nomecompleto", "фио"],
    "email": ["email", "emailaddress", "email1", "emailwork", "workemail", "contactprimaryemail", "primaryemail",
              "personemail", "mail", "correioeletronico"],
    "phone": ["phone", "phonenumber", "mobile", "mobilephone", "mobilephonenumber", "phonemobile", "phonework",
              "workphone", "contactprimaryphone", "primaryphone", "personphone", "telefone", "telemovel", "telefon",
              "телефон"],
    "account": ["company", "companyname", "account", "accountname", "organization", "organisation",
                "organizationname", "organisationname", "empresa", "companie", "компания"],
    "country": ["country", "countrycode", "mailingcountry", "pais", "tara", "страна"],
    "timezone": ["timezone", "tz"],
    "locale": ["language", "locale", "preferredlanguage", "idioma", "limba", "язык"],
    "source": ["source", "leadsource", "originalsource", "originalsourcetype", "dealsource", "origem"],
    "campaign": ["campaign", "campaignname", "campanha"],
    "value": ["value", "amount", "dealvalue", "opportunityamount", "valor", "valoare"],
    "currency": ["currency", "currencycode", "currencyisocode", "dealcurrency", "moeda"],
    "title": ["title", "leadtitle", "dealname", "opportunityname", "dealtitle"],
    "owner_email": ["owneremail", "leadowneremail", "contactowneremail", "ownersemail", "dealowneremail"],
    "do_not_call": ["donotcall", "dnc", "donotcallflag"],
    "email_opt_out": ["emailoptout", "hasoptedoutofemail", "unsubscribed", "unsubscribedfromallemail", "optout"],
}
HEADER_TO_FIELD = {alias: name for name, aliases in ALIASES.items() for alias in aliases}
TRUE_WORDS = {"1", "true", "yes", "y", "sim", "da", "да", "x", "t"}
BATCH_ROWS = 1000
MAX_CELL = 1000


def normalise_header(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.strip().lower().lstrip("\ufeff"))


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """{column index: field} for headers we recognise; each field at most once."""
    mapping, taken = {}, set()
    for index, header in enumerate(headers):
        name = HEADER_TO_FIELD.get(normalise_header(header))
        if name and name not in taken:
            mapping[str(index)] = name
            taken.add(name)
    return mapping


def detect_encoding(sample: bytes) -> str:
    """utf-8-sig, utf-8, cp1251 or latin-1 — the one the bytes read most plausibly as."""
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start > len(sample) - 4:  # a character cut at the end of the sample
            try:
                sample[: exc.start].decode("utf-8")
                return "utf-8"
            except UnicodeDecodeError:
                return detect_single_byte(sample)
    return detect_single_byte(sample)


def detect_single_byte(sample: bytes) -> str:
    """Windows-1251 or Latin-1, for bytes that are not UTF-8."""
    high = [b for b in sample if b >= 0x80]
    # In Windows-1251 text most high bytes are Cyrillic letters (0xC0-0xFF); in Latin-1
    # text they are scattered accents, a minority among plain letters.
    cyrillic = sum(1 for b in high if b >= 0xC0)
    letters = sum(1 for b in sample if 0x41 <= b <= 0x7A)
    return "cp1251" if high and cyrillic / len(high) > 0.8 and cyrillic > letters * 0.3 else "latin-1"


def detect_delimiter(text: str) -> str:
    lines = text.splitlines()[:20]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t").delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        return max(",;\t", key=header.count)


@dataclass
class Sniffed:
    encoding: str
    delimiter: str
    headers: list[str]
    mapping: dict[str, str]
    sample: list[list[str]]


def sniff(path: str) -> Sniffed:
    """Look at the start of a file: its encoding, delimiter, headers and first rows."""
    with open(path, "rb") as fh:
        head = fh.read(64 * 1024)
    if not head.strip():
        raise ValidationFailed(_("The file is empty."), fields={"file": _("The file is empty.")})
    if b"\x00" in head:
        raise ValidationFailed(_("This is not a CSV text file."), fields={"file": _("Upload a .csv file.")})
    encoding = detect_encoding(head)
    text = head.decode(encoding, errors="replace")
    delimiter = detect_delimiter(text)
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    headers = [h.strip() for h in rows[0]] if rows else []
    mapping = guess_mapping(headers)
    return Sniffed(encoding, delimiter, headers, mapping, rows[1:6])


def check_mapping(mapping: dict[str, str]) -> None:
    fields = set(mapping.values())
    unknown = fields - set(FIELDS)
    if unknown:
        raise ValidationFailed(_("Unknown fields: %(fields)s.",
                               fields=", ".join(sorted(unknown))), fields={"mapping": _("Unknown field.")})
    if not fields & {"first_name", "full_name"}:
        raise ValidationFailed(_("No column holds the person's name: map one to first_name or full_name."),
                               fields={"mapping": _("Map a name column.")})
    if not fields & {"email", "phone"}:
        raise ValidationFailed(_("No column holds an email or a phone; without one, people cannot be recognised."),
                               fields={"mapping": _("Map an email or phone column.")})
    if len(fields) != len(mapping):
        raise ValidationFailed(_("A field is mapped to two columns."), fields={"mapping": _("Each field once.")})


def iter_rows(path: str, encoding: str, delimiter: str, start: int = 0) -> Iterator[tuple[int, list[str]]]:
    """(row number as a spreadsheet shows it, cells), from data row ``start`` on; streamed."""
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        next(reader, None)
        for index, cells in enumerate(reader):
            if index < start:
                continue
            if any(c.strip() for c in cells):
                yield index + 2, cells


@dataclass
class BatchResult:
    created: int = 0
    existing: int = 0
    rejected: list[tuple[int, str, list[str]]] = field(default_factory=list)


@dataclass
class Lookups:
    """Caches for one import: sources, campaigns and owners by their keys."""

    sources: dict[str, int | None] = field(default_factory=dict)
    campaigns: dict[str, int | None] = field(default_factory=dict)
    owners: dict[str, User | None] = field(default_factory=dict)
    accounts: dict[str, int] = field(default_factory=dict)


def _row_values(cells: list[str], mapping: dict[str, str]) -> dict[str, str]:
    values = {}
    for index, name in mapping.items():
        i = int(index)
        if i < len(cells):
            text = cells[i].strip()
            if len(text) > MAX_CELL:
                raise ValidationFailed(_("%(field)s is longer than %(max)d characters.", field=name, max=MAX_CELL),
                                       fields={name: _("Too long.")})
            if text:
                values[name] = text
    return values


def clean_row(values: dict[str, str]) -> dict:
    """Validated fields of one row (no database needed), or ValidationFailed naming what is wrong."""
    if "full_name" in values and "first_name" not in values:
        first, _sep, last = values["full_name"].partition(" ")
        values.setdefault("first_name", first)
        values.setdefault("last_name", last)
    if not values.get("email") and not values.get("phone"):
        raise ValidationFailed(_("The row has neither an email nor a phone."), fields={"email": _("Email or phone needed.")})
    country = (values.get("country") or "").strip().upper()
    person = clean_contact_fields(first_name=values.get("first_name"), last_name=values.get("last_name", ""),
                                  email=values.get("email"), phone=values.get("phone"), timezone=values.get("timezone"),
                                  locale=values.get("locale"), region=country if len(country) == 2 else None)
    if len(country) == 2 and not person.get("country"):
        person["country"] = country
    return {"person": person, "account": values.get("account"), "title": values.get("title", "")[:200],
            "value": check_value(values.get("value", "").replace(" ", "").replace(",", ".") or None),
            "currency": check_currency(values.get("currency")),
            "do_not_call": values.get("do_not_call", "").lower() in TRUE_WORDS,
            "email_opt_out": values.get("email_opt_out", "").lower() in TRUE_WORDS,
            "source": values.get("source"), "campaign": values.get("campaign"), "owner_email": values.get("owner_email")}


def _reason(exc: ValidationFailed) -> str:
    return "; ".join(f"{k}: {v}" for k, v in exc.fields.items()) or exc.message


def validate_batch(rows: list[tuple[int, list[str]]], mapping: dict[str, str]) -> tuple[list, list]:
    """(good rows as (number, row, cells), rejected as (number, reason, cells)); touches no database."""
    good, rejected = [], []
    for number, cells in rows:
        try:
            good.append((number, clean_row(_row_values(cells, mapping)), cells))
        except ValidationFailed as exc:
            rejected.append((number, _reason(exc), cells))
    return good, rejected


def _resolve(row: dict, lookups: Lookups) -> None:
    """The row's source, campaign and owner, from the database (cached per import)."""
    row["source_id"] = _source_id(row["source"], lookups)
    row["campaign_id"] = _campaign_id(row["campaign"], lookups)
    row["owner"] = _owner(row["owner_email"], lookups)


def _source_id(name: str | None, lookups: Lookups) -> int | None:
    if not name:
        return None
    key = name.strip().lower()
    if key not in lookups.sources:
        source = get_or_create_source(name)
        lookups.sources[key] = source.id if source else None
    return lookups.sources[key]


def _campaign_id(name: str | None, lookups: Lookups) -> int | None:
    if not name:
        return None
    key = name.strip().lower()
    if key not in lookups.campaigns:
        lookups.campaigns[key] = db.session.scalar(select(Campaign.id).where(func.lower(Campaign.name) == key))
    if lookups.campaigns[key] is None:
        raise ValidationFailed(_("There is no campaign “%(name)s”.", name=name), fields={"campaign": _("Unknown campaign.")})
    return lookups.campaigns[key]


def _owner(email: str | None, lookups: Lookups) -> User | None:
    if not email:
        return None
    key = email.strip().lower()
    if key not in lookups.owners:
        lookups.owners[key] = db.session.scalar(select(User).where(User.email == key, User.active.is_(True)))
    if lookups.owners[key] is None or lookups.owners[key].role.value != "rep":
        raise ValidationFailed(_("%(email)s is not an active inside-sales rep.", email=email),
                               fields={"owner_email": _("Unknown rep.")})
    return lookups.owners[key]


def import_batch(rows: list[tuple[int, list[str]]], mapping: dict[str, str], *, actor: User | None,
                 team_id: int | None, lookups: Lookups, dry_run: bool = False, validated=None) -> BatchResult:
    """Validate and write one batch; each row is in or out, the batch is one transaction step.

    ``validated`` is validate_batch's answer when it was already computed (in a worker process).
    """
    valid, rejected = validated if validated is not None else validate_batch(rows, mapping)
    result = BatchResult(rejected=list(rejected))
    good: list[tuple[int, dict]] = []
    seen_keys: set[str] = set()
    for number, row, cells in valid:
        try:
            _resolve(row, lookups)
        except ValidationFailed as exc:
            result.rejected.append((number, _reason(exc), cells))
            continue
        keys = {k for k in (row["person"]["email"], row["person"]["phone"]) if k}
        if keys & seen_keys:
            result.existing += 1  # the same person twice in one file: the first row counts
            continue
        seen_keys |= keys
        good.append((number, row))
    result.rejected.sort(key=lambda r: r[0])
    if not good:
        return result
    contacts = _existing_contacts(good)
    existing_leads = _existing_open_leads(contacts, good)
    to_create = []
    for number, row in good:
        contact_id = _match(contacts, row["person"])
        if contact_id is not None and (contact_id, row["source_id"], row["campaign_id"]) in existing_leads:
            result.existing += 1
            continue
        to_create.append((number, row, contact_id))
    result.created = len(to_create)
    if dry_run or not to_create:
        return result
    with db.session.begin_nested():
        _write(to_create, actor=actor, team_id=team_id, lookups=lookups)
    return result


def _existing_contacts(good) -> dict[str, int]:
    """{"e:<email>" or "p:<phone>": contact id} for the batch's people already in the database."""
    emails = {r["person"]["email"] for _, r in good if r["person"]["email"]}
    phones = {r["person"]["phone"] for _, r in good if r["person"]["phone"]}
    alive = (Contact.merged_into_id.is_(None), Contact.erased_at.is_(None))
    found = []
    # Two statements, not one with OR: each is a b-tree lookup per value (an OR needs a bitmap scan).
    with exact_index_lookups(db.session):
        if emails:
            found += db.session.execute(select(Contact.id, Contact.email, Contact.phone)
                                        .where(func.lower(Contact.email).in_(emails), *alive)).all()
        if phones:
            found += db.session.execute(select(Contact.id, Contact.email, Contact.phone)
                                        .where(Contact.phone.in_(phones), *alive)).all()
    index: dict[str, int] = {}
    for contact_id, email, phone in sorted(found):  # the oldest record wins, as before
        if email:
            index.setdefault("e:" + email.lower(), contact_id)
        if phone:
            index.setdefault("p:" + phone, contact_id)
    return index


def _match(index: dict[str, int], person: dict) -> int | None:
    if person["email"] and "e:" + person["email"] in index:
        return index["e:" + person["email"]]
    if person["phone"] and "p:" + person["phone"] in index:
        return index["p:" + person["phone"]]
    return None


def _existing_open_leads(index: dict[str, int], good) -> set[tuple]:
    ids = set(index.values())
    if not ids:
        return set()
    return {tuple(r) for r in db.session.execute(
        select(Lead.contact_id, Lead.source_id, Lead.campaign_id)
        .where(Lead.contact_id.in_(ids), Lead.status == LeadStatus.OPEN)).all()}


def _account_ids(names: set[str], lookups: Lookups) -> None:
    """Find or create the batch's companies in two statements, caching their ids by lower-case name."""
    wanted = {n.strip()[:200] for n in names if n and n.strip() and n.strip().lower() not in lookups.accounts}
    if not wanted:
        return
    keys = {n.lower(): n for n in wanted}
    for account_id, name in db.session.execute(
            select(Account.id, Account.name).where(func.lower(Account.name).in_(keys))).all():
        lookups.accounts.setdefault(name.lower(), account_id)
    missing = [name for key, name in keys.items() if key not in lookups.accounts]
    if missing:
        ids = db.session.scalars(insert(Account).returning(Account.id, sort_by_parameter_order=True),
                                 [{"name": name} for name in missing]).all()
        lookups.accounts.update({name.lower(): account_id for name, account_id in zip(missing, ids, strict=True)})


def _write(to_create, *, actor, team_id, lookups) -> None:
    now = utcnow()
    auto = [number for number, row, _ in to_create if row["owner"] is None]
    owners = dict(zip(auto, pick_owners(team_id, len(auto)), strict=True))

    def owner_of(number, row):
        return row["owner"] or owners.get(number)

    def team_of(owner):
        return team_id if team_id else (owner.team_id if owner else None)

    new_people = [(number, row) for number, row, contact_id in to_create if contact_id is None]
    contact_ids: dict[int, int] = {}
    if new_people:
        _account_ids({row["account"] for _, row in new_people if row["account"]}, lookups)
        payload = [{**row["person"], "search_name": name_key(row["person"]["first_name"], row["person"]["last_name"]),
                    "account_id": lookups.accounts.get((row["account"] or "").strip()[:200].lower()),
                    "team_id": team_id,
                    "do_not_call": row["do_not_call"], "email_opt_out": row["email_opt_out"], "created_at": now,
                    "updated_at": now} for _, row in new_people]
        if is_postgresql(db.session):  # each new person's one lead, below, gives them these keys: one write, not two
            for (number, row), person in zip(new_people, payload, strict=True):
                owner = owner_of(number, row)
                person[ACCESS_KEYS] = [new_lead_access_key(owner.id if owner else None, team_of(owner))]
        ids = bulk_insert(db.session, Contact.__table__, payload)
        contact_ids = {number: new_id for (number, _), new_id in zip(new_people, ids, strict=True)}
    lead_rows = []
    for number, row, contact_id in to_create:
        owner = owner_of(number, row)
        lead_rows.append({
            "contact_id": contact_id or contact_ids[number], "title": row["title"] or _name(row["person"]),
            "stage": Stage.DISCOVER, "status": LeadStatus.OPEN, "owner_id": owner.id if owner else None,
            "team_id": team_of(owner), "source_id": row["source_id"],
            "campaign_id": row["campaign_id"], "value": row["value"], "currency": row["currency"], "score": 0,
            "lost_note": "", "created_at": now, "updated_at": now, "stage_changed_at": now,
            "furthest_stage": Stage.DISCOVER})  # the funnel's facts of a new lead, as the trigger would set them
    lead_ids = bulk_insert(db.session, Lead.__table__, lead_rows)
    bulk_insert(db.session, StageChange.__table__, [
        {"lead_id": lead_id, "from_stage": None, "to_stage": Stage.DISCOVER, "from_status": None,
         "to_status": LeadStatus.OPEN, "changed_at": now, "changed_by_id": getattr(actor, "id", None), "note": "imported",
         "lead_created_at": now, "ended_at": None}
        for lead_id in lead_ids])
    enroll_many([(lead_id, row["contact_id"], row["campaign_id"]) for lead_id, row in zip(lead_ids, lead_rows,
                                                                                        strict=True)], now=now)


def _name(person: dict) -> str:
    return f"{person['first_name']} {person['last_name']}".strip()


def rejects_csv(rejected: list[tuple[int, str, list[str]]], headers: list[str], *, with_header: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if with_header:
        writer.writerow(["row", "reason", *headers])
    for number, reason, cells in rejected:
        writer.writerow([number, reason, *cells])
    return buffer.getvalue()






def run_step(job, *, actor: User | None, limit: int = 2000) -> None:
    """Import up to ``limit`` more rows of an ImportJob, from where it stopped."""
    from crm.imports.models import ImportStatus

    lookups = Lookups()
    rows = iter_rows(job.stored_path, job.encoding, job.delimiter, start=job.rows_read)
    batch: list[tuple[int, list[str]]] = []
    finished = True
    for taken, (number, cells) in enumerate(rows, start=1):
        batch.append((number, cells))
        if len(batch) == BATCH_ROWS or taken == limit:
            _apply(job, batch, actor, lookups)
            batch = []
        if taken == limit:
            finished = next(rows, None) is None
            break
    if batch:
        _apply(job, batch, actor, lookups)
    if finished:
        job.status = ImportStatus.DONE
        job.finished_at = utcnow()
        record(actor, "import.finished", job, {"created": job.rows_created, "existing": job.rows_existing,
                                                "rejected": job.rows_rejected, "file": job.filename})
    db.session.flush()


def _apply(job, batch, actor, lookups) -> None:
    result = import_batch(batch, job.mapping, actor=actor, team_id=job.team_id, lookups=lookups)
    # rows_read counts data rows, blank ones included, so a step resumes at the right place
    job.rows_read = batch[-1][0] - 1
    job.rows_created += result.created
    job.rows_existing += result.existing
    job.rows_rejected += len(result.rejected)
    if result.rejected:
        job.rejects += rejects_csv(result.rejected, job.headers, with_header=not job.rejects)


def _batches(path: str, encoding: str, delimiter: str) -> Iterator[list[tuple[int, list[str]]]]:
    batch: list[tuple[int, list[str]]] = []
    for row in iter_rows(path, encoding, delimiter):
        batch.append(row)
        if len(batch) == BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


def _start_worker(config: dict) -> None:
    from crm import create_app

    create_app(config).app_context().push()


def import_file(path: str, mapping: dict[str, str], *, encoding: str, delimiter: str, actor: User | None,
                team_id: int | None, dry_run: bool = False, parallel: bool = False) -> Iterator[tuple[int, BatchResult]]:
    """Import a whole file batch by batch, yielding (rows in the batch, result) after each.

    The caller commits (or, for a dry run, rolls back) after each batch, so a crash
    loses at most one batch and a rerun skips what is already in. With ``parallel``
    a second process validates the next batch while this one writes the current one
    (at most two batches in flight, so memory stays flat).
    """
    lookups = Lookups()
    batches = _batches(path, encoding, delimiter)
    if not parallel:
        for batch in batches:
            yield len(batch), import_batch(batch, mapping, actor=actor, team_id=team_id, lookups=lookups,
                                           dry_run=dry_run)
        return
    import multiprocessing

    from flask import current_app

    keys = ("DEFAULT_PHONE_REGION", "DEFAULT_TIMEZONE", "DEFAULT_CURRENCY", "SECRET_KEY")
    config = {"SQLALCHEMY_DATABASE_URI": "sqlite://", **{k: current_app.config[k] for k in keys}}
    # spawn, not fork: a forked child would share this process's database connections
    with multiprocessing.get_context("spawn").Pool(1, initializer=_start_worker, initargs=(config,)) as pool:
        pending = []
        for batch in batches:
            pending.append((batch, pool.apply_async(validate_batch, (batch, mapping))))
            if len(pending) == 2:
                done, job = pending.pop(0)
                yield len(done), import_batch(done, mapping, actor=actor, team_id=team_id, lookups=lookups,
                                              dry_run=dry_run, validated=job.get())
        for done, job in pending:
            yield len(done), import_batch(done, mapping, actor=actor, team_id=team_id, lookups=lookups,
                                          dry_run=dry_run, validated=job.get())
