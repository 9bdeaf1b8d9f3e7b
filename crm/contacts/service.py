"""Contacts and accounts: validation users can trust, and one record per person."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from flask import current_app
from flask_babel import gettext as _
from phonenumbers import timezone as phone_timezones
from sqlalchemy import func, or_, select, update

from crm.audit.service import record
from crm.auth.service import check_timezone, normalise_email
from crm.contacts.models import Account, Contact
from crm.errors import ValidationFailed
from crm.extensions import db


def _parse_phone(raw: str, region: str | None, field: str) -> phonenumbers.PhoneNumber:
    region = region or current_app.config["DEFAULT_PHONE_REGION"]
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed(_("“%(phone)s” is not a phone number.", phone=raw),
                               fields={field: _("Not a phone number.")}) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed(_("“%(phone)s” is not a valid phone number.", phone=raw),
                               fields={field: _("Not a valid phone number.")})
    return number


def normalise_phone(raw: str, region: str | None = None, field: str = "phone") -> str:
    """The E.164 form of a phone number written any usual way, or a field error."""
    return phonenumbers.format_number(_parse_phone(raw, region, field), phonenumbers.PhoneNumberFormat.E164)


def _facts(number: phonenumbers.PhoneNumber) -> tuple[str | None, str | None]:
    country = phonenumbers.region_code_for_number(number)
    zones = [z for z in phone_timezones.time_zones_for_number(number) if z != "Etc/Unknown"]
    return country, zones[0] if len(zones) == 1 else None


def phone_facts(e164: str) -> tuple[str | None, str | None]:
    """(country code, time zone) of an E.164 number, when the number tells them unambiguously."""
    return _facts(phonenumbers.parse(e164))


@dataclass
class ContactMatch:
    contact: Contact
    created: bool
    matched_on: str | None  # "email" or "phone" when an existing person was recognised


def find_existing(email: str | None, phone: str | None) -> tuple[Contact | None, str | None]:
    conditions = []
    if email:
        conditions.append(func.lower(Contact.email) == email)
    if phone:
        conditions.append(Contact.phone == phone)
    if not conditions:
        return None, None
    candidates = db.session.scalars(
        select(Contact).where(or_(*conditions), Contact.merged_into_id.is_(None), Contact.erased_at.is_(None))
        .order_by(Contact.id).limit(5)
    ).all()
    for on in ("email", "phone"):
        for contact in candidates:
            if on == "email" and email and (contact.email or "").lower() == email:
                return contact, "email"
            if on == "phone" and phone and contact.phone == phone:
                return contact, "phone"
    return None, None


def get_or_create_account(name: str | None) -> Account | None:
    if not name or not name.strip():
        return None
    name = name.strip()
    account = db.session.scalar(select(Account).where(func.lower(Account.name) == name.lower()).limit(1))
    if account is None:
        account = Account(name=name)
        db.session.add(account)
        db.session.flush()
    return account


def clean_contact_fields(*, first_name: str | None, last_name: str | None = "", email: str | None = None,
                         phone: str | None = None, timezone: str | None = None, locale: str | None = None,
                         prefix: str = "", region: str | None = None) -> dict:
    """Validate and normalise a person's fields; all errors at once, keyed by field path."""
    errors: dict[str, str] = {}
    out: dict = {"first_name": (first_name or "").strip(), "last_name": (last_name or "").strip()}
    if not out["first_name"]:
        errors[prefix + "first_name"] = "A first name is required."
    if email:
        try:
            out["email"] = normalise_email(email)
        except ValidationFailed as exc:
            errors[prefix + "email"] = exc.message
    else:
        out["email"] = None
    out["phone"], out["country"] = None, None
    guessed_zone = None
    if phone:
        try:
            number = _parse_phone(phone, region, "phone")  # parsed once: format and facts from the same parse
            out["phone"] = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            out["country"], guessed_zone = _facts(number)
        except ValidationFailed as exc:
            errors[prefix + "phone"] = exc.fields["phone"]
    zone = timezone or guessed_zone or current_app.config["DEFAULT_TIMEZONE"]
    try:
        out["timezone"] = check_timezone(zone)
    except ValidationFailed:
        errors[prefix + "timezone"] = _("Use an IANA name such as Europe/Lisbon.")
    out["locale"] = (locale or "en").strip()[:10] or "en"
    if errors:
        raise ValidationFailed(_("Some contact fields are wrong."), fields=errors)
    return out


def find_or_create_contact(*, actor=None, account: str | None = None, team_id: int | None = None,
                           prefix: str = "", **fields) -> ContactMatch:
    """The contact with this email or phone, or a new one; the answer says which."""
    clean = clean_contact_fields(prefix=prefix, **fields)
    existing, matched_on = find_existing(clean["email"], clean["phone"])
    if existing is not None:
        return ContactMatch(existing, False, matched_on)
    contact = Contact(account=get_or_create_account(account), team_id=team_id, **clean)
    db.session.add(contact)
    db.session.flush()
    record(actor, "contact.created", contact, {"email": contact.email, "phone": contact.phone})
    return ContactMatch(contact, True, None)


def create_contacts(people: list[dict], *, actor=None, team_id: int | None = None) -> list[Contact]:
    """New contacts for people the caller has looked up and not found (under their new-contact locks).

    find_or_create_contact's rules without its lookup, for many at once: one INSERT and one
    round of audit events. Each dict holds clean_contact_fields' arguments.
    """
    contacts = [Contact(team_id=team_id, **clean_contact_fields(**person)) for person in people]
    db.session.add_all(contacts)
    db.session.flush()
    for contact in contacts:
        record(actor, "contact.created", contact, {"email": contact.email, "phone": contact.phone})
    return contacts


CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "timezone", "locale")


def update_contact(contact: Contact, *, actor=None, account: str | None = None, **fields) -> Contact:
    """Change a contact; the same validation as creation, and no clash with another person."""
    current = {name: getattr(contact, name) for name in CONTACT_FIELDS}
    merged = {**current, **{k: v for k, v in fields.items() if k in CONTACT_FIELDS}}
    clean = clean_contact_fields(**merged)
    other, on = find_existing(clean["email"], clean["phone"])
    if other is not None and other.id != contact.id:
        raise ValidationFailed(_("Another contact already has this %(field)s: %(name)s (#%(id)d).",
                                 field=_("email address") if on == "email" else _("phone number"),
                                 name=other.full_name, id=other.id),
                               fields={on: _("Already used by contact #%(id)d; merge them instead.", id=other.id)})
    changes = {}
    for name in (*CONTACT_FIELDS, "country"):
        if name == "country" and not clean.get("phone"):
            continue
        if getattr(contact, name) != clean[name]:
            changes[name] = clean[name]
            setattr(contact, name, clean[name])
    for flag in ("do_not_call", "email_opt_out"):
        if flag in fields and fields[flag] is not None and getattr(contact, flag) != fields[flag]:
            changes[flag] = fields[flag]
            setattr(contact, flag, fields[flag])
    if account is not None:
        new_account = get_or_create_account(account)
        if contact.account_id != (new_account.id if new_account else None):
            contact.account = new_account
            changes["account"] = account
    db.session.flush()
    if changes:
        record(actor, "contact.updated", contact, changes)
    return contact


def merge_contacts(survivor: Contact, duplicate: Contact, *, actor=None) -> Contact:
    """Move the duplicate's leads, touches, tasks, handles and emails to the survivor.

    The duplicate stays as a pointer (merged_into_id) so old links still resolve.
    """
    from crm.email.models import OutboundEmail
    from crm.leads.models import Lead
    from crm.tasks.models import Task
    from crm.touches.models import Survey, Touch

    if survivor.id == duplicate.id:
        raise ValidationFailed(_("A contact cannot be merged into itself."), fields={"duplicate_id": _("Pick another contact.")})
    if duplicate.merged_into_id is not None:
        raise ValidationFailed(_("That contact was already merged."), fields={"duplicate_id": _("Already merged.")})
    moved = {}
    for model in (Lead, Touch, Task, OutboundEmail, Survey):
        result = db.session.execute(
            update(model).where(model.contact_id == duplicate.id).values(contact_id=survivor.id)
            .execution_options(synchronize_session=False))
        moved[model.__tablename__] = result.rowcount
    taken = {(h.platform, h.handle) for h in survivor.handles}
    for handle in list(duplicate.handles):
        if (handle.platform, handle.handle) not in taken:
            handle.contact = survivor
    for name in ("email", "phone", "account_id", "country"):
        if getattr(survivor, name) in (None, "") and getattr(duplicate, name):
            value = getattr(duplicate, name)
            if name in ("email", "phone"):
                setattr(duplicate, name, None)
                db.session.flush()
            setattr(survivor, name, value)
    survivor.do_not_call = survivor.do_not_call or duplicate.do_not_call
    survivor.email_opt_out = survivor.email_opt_out or duplicate.email_opt_out
    duplicate.merged_into_id = survivor.id
    db.session.flush()
    db.session.expire_all()
    record(actor, "contact.merged", survivor, {"duplicate_id": duplicate.id, "moved": moved})
    return survivor
