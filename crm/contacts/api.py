"""/api/v1/contacts and /api/v1/accounts."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from crm import access
from crm.api import current_api_user, endpoint
from crm.api.pagination import MAX_LIMIT, page
from crm.contacts import privacy, service
from crm.contacts.models import Account, Contact
from crm.contacts.search import account_name_matches, matches_search
from crm.errors import AccessDenied, NotFound, ValidationFailed
from crm.extensions import db


class Ref(BaseModel):
    id: int
    name: str


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    first_name: str = Field(min_length=1, max_length=120)
    last_name: str = Field("", max_length=120)
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=40)
    timezone: str | None = Field(None, max_length=64)
    locale: str | None = Field(None, max_length=10)
    account: str | None = Field(None, max_length=200, description="Company name; created if new")
    do_not_call: bool = False
    email_opt_out: bool = False


class ContactPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    first_name: str | None = Field(None, min_length=1, max_length=120)
    last_name: str | None = Field(None, max_length=120)
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=40)
    timezone: str | None = Field(None, max_length=64)
    locale: str | None = Field(None, max_length=10)
    account: str | None = Field(None, max_length=200)
    do_not_call: bool | None = None
    email_opt_out: bool | None = None


class ContactOut(BaseModel):
    id: int
    first_name: str
    last_name: str
    full_name: str
    email: str | None
    phone: str | None
    timezone: str
    locale: str
    country: str | None
    account: Ref | None
    do_not_call: bool
    email_opt_out: bool
    created_at: datetime
    matched_on: str | None = Field(None, description="On create: 'email' or 'phone' when this person already existed")


class ContactList(BaseModel):
    items: list[ContactOut]
    next_cursor: str | None


class ContactQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    q: str | None = Field(None, max_length=200)
    cursor: str | None = Field(None, max_length=100)
    limit: int = Field(50, ge=1, le=MAX_LIMIT)


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    duplicate_id: int = Field(ge=1)


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    domain: str | None = Field(None, max_length=200)
    country: str | None = Field(None, min_length=2, max_length=2)


class AccountOut(BaseModel):
    id: int
    name: str
    domain: str | None
    country: str | None
    created_at: datetime


class AccountList(BaseModel):
    items: list[AccountOut]
    next_cursor: str | None


def contact_out(contact: Contact, matched_on: str | None = None) -> ContactOut:
    return ContactOut(
        id=contact.id, first_name=contact.first_name, last_name=contact.last_name, full_name=contact.full_name,
        email=contact.email, phone=contact.phone, timezone=contact.timezone, locale=contact.locale,
        country=contact.country, account=Ref(id=contact.account.id, name=contact.account.name) if contact.account else None,
        do_not_call=contact.do_not_call, email_opt_out=contact.email_opt_out, created_at=contact.created_at,
        matched_on=matched_on)


@endpoint("/contacts", summary="List or search contacts", tags=["contacts"], query=ContactQuery, response=ContactList,
          read_only=True)
def list_contacts(query: ContactQuery):
    # The company by a join: one statement, where a separate SELECT of the accounts was a second round trip.
    stmt = access.visible_contacts(current_api_user()).options(joinedload(Contact.account))
    if query.q:
        stmt = stmt.where(matches_search(Contact.id, query.q, db.session, current_api_user()))
    rows, cursor = page(stmt, Contact.id, cursor=query.cursor, limit=query.limit, session=db.session)
    return ContactList(items=[contact_out(c) for c in rows], next_cursor=cursor)


@endpoint("/contacts", "POST", summary="Create a contact (or recognise an existing one)", tags=["contacts"],
          body=ContactIn, response=ContactOut, status=201, responses={200: "The person already existed"})
def create_contact(body: ContactIn):
    user = current_api_user()
    fields = body.model_dump(exclude={"do_not_call", "email_opt_out"})
    match = service.find_or_create_contact(actor=user, team_id=user.team_id, **fields)
    if match.created:
        match.contact.do_not_call, match.contact.email_opt_out = body.do_not_call, body.email_opt_out
    return contact_out(match.contact, match.matched_on), 201 if match.created else 200


@endpoint("/contacts/<int:contact_id>", summary="One contact", tags=["contacts"], response=ContactOut,
          read_only=True)
def get_contact(contact_id: int):
    return contact_out(access.get_contact(current_api_user(), contact_id))


@endpoint("/contacts/<int:contact_id>", "PATCH", summary="Change a contact", tags=["contacts"], body=ContactPatch,
          response=ContactOut)
def patch_contact(contact_id: int, body: ContactPatch):
    user = current_api_user()
    contact = access.get_contact(user, contact_id)
    service.update_contact(contact, actor=user, **body.model_dump(exclude_unset=True))
    return contact_out(contact)


@endpoint("/contacts/<int:contact_id>/merge", "POST", summary="Merge a duplicate into this contact", tags=["contacts"],
          body=MergeIn, response=ContactOut, responses={403: "Only managers and admins merge"})
def merge_contact(contact_id: int, body: MergeIn):
    user = current_api_user()
    if not access.may_merge_contacts(user):
        raise AccessDenied(_("Only managers and admins merge contacts."))
    survivor = access.get_contact(user, contact_id)
    duplicate = access.get_contact(user, body.duplicate_id)
    return contact_out(service.merge_contacts(survivor, duplicate, actor=user))


@endpoint("/accounts", summary="List accounts", tags=["accounts"], query=ContactQuery, response=AccountList,
          read_only=True)
def list_accounts(query: ContactQuery):
    stmt = select(Account)
    if query.q:
        stmt = stmt.where(account_name_matches(query.q))
    rows, cursor = page(stmt, Account.id, cursor=query.cursor, limit=query.limit, session=db.session)
    return AccountList(items=[AccountOut.model_validate(a, from_attributes=True) for a in rows], next_cursor=cursor)


@endpoint("/accounts", "POST", summary="Create an account (company)", tags=["accounts"], body=AccountIn,
          response=AccountOut, status=201)
def create_account(body: AccountIn):
    account = service.get_or_create_account(body.name)
    if account is None:  # only blanks (str.strip() also removes control characters such as \x1d)
        raise ValidationFailed("An account needs a name.", fields={"name": "A name is required."})
    account.domain = body.domain or account.domain
    account.country = (body.country or account.country or "").upper() or None
    db.session.flush()
    return AccountOut.model_validate(account, from_attributes=True)


@endpoint("/accounts/<int:account_id>", summary="One account", tags=["accounts"], response=AccountOut,
          read_only=True)
def get_account(account_id: int):
    account = db.session.get(Account, account_id)
    if account is None:
        raise NotFound(_("No such account."))
    return AccountOut.model_validate(account, from_attributes=True)


@endpoint("/contacts/<int:contact_id>/export", summary="Everything held about a contact (data request)",
          tags=["contacts"], responses={403: "Managers and admins only"})
def export_contact_data(contact_id: int):
    user = current_api_user()
    if not access.may_handle_data_requests(user):
        raise AccessDenied(_("Only managers and admins answer data requests."))
    return privacy.export_contact(access.get_contact(user, contact_id), actor=user)


@endpoint("/contacts/<int:contact_id>/erase", "POST", summary="Erase a contact's personal data (history counts kept)",
          tags=["contacts"], response=ContactOut, responses={403: "Managers and admins only"})
def erase_contact_data(contact_id: int):
    user = current_api_user()
    if not access.may_handle_data_requests(user):
        raise AccessDenied(_("Only managers and admins answer data requests."))
    return contact_out(privacy.erase_contact(access.get_contact(user, contact_id), actor=user))
