"""Contact pages: the searchable list, one contact with its timeline, forms, merging."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import literal_column, select
from sqlalchemy.orm import selectinload

from crm import access
from crm.api.pagination import page, page_by_name
from crm.contacts import service
from crm.contacts.forms import ContactForm, MergeForm
from crm.contacts.models import Account, Contact
from crm.contacts.search import account_name_matches, matches_search
from crm.contacts.timeline import contact_timeline
from crm.db import collated
from crm.errors import DomainError, ValidationFailed
from crm.extensions import db
from crm.leads.models import Lead
from crm.touches.models import Channel

bp = Blueprint("contacts", __name__)

# A contact's name as lists sort it: as it is shown, first name first. The space is written
# into the SQL (not a parameter) so PostgreSQL matches it to the index icu_contacts_name_order.
SORT_NAME = Contact.first_name.concat(literal_column("' '")).concat(Contact.last_name)


def sort_name_of(contact: Contact) -> str:
    return f"{contact.first_name} {contact.last_name}"


def apply_errors(form, exc: DomainError) -> None:
    """Put a service's field errors beside the form's fields; others become a flash."""
    placed = False
    for name, message in exc.fields.items():
        field = name.split(".")[-1]
        if field in form._fields:
            form[field].errors = [*form[field].errors, message]
            placed = True
    if not placed:
        flash(exc.message, "danger")


@bp.get("/contacts")
@login_required
def index():
    q = request.args.get("q", "").strip()
    stmt = access.visible_contacts(current_user).options(selectinload(Contact.account))
    if q:
        stmt = stmt.where(matches_search(Contact.id, q, db.session, current_user))
    sort = "name" if request.args.get("sort") == "name" else "newest"
    if sort == "name":
        def listing(cursor):
            return page_by_name(stmt, SORT_NAME, Contact.id, sort_name_of, cursor=cursor, limit=50, session=db.session)
    else:
        def listing(cursor):
            return page(stmt, Contact.id, cursor=cursor, limit=50, session=db.session)
    try:
        rows, cursor = listing(request.args.get("cursor"))
    except ValidationFailed:
        rows, cursor = listing(None)
    return render_template("contacts/index.html", contacts=rows, q=q, sort=sort, next_cursor=cursor)


@bp.get("/contacts/<int:contact_id>")
@login_required
def show(contact_id: int):
    contact = access.get_contact(current_user, contact_id)
    if contact.merged_into_id:
        return redirect(url_for("contacts.show", contact_id=contact.merged_into_id))
    channel = request.args.get("channel") or None
    if channel not in {c.value for c in Channel}:
        channel = None
    leads = db.session.scalars(select(Lead).where(Lead.contact_id == contact.id, access.lead_visibility(current_user))
                               .options(selectinload(Lead.owner)).order_by(Lead.id.desc())).all()
    return render_template("contacts/show.html", contact=contact, leads=leads, channel=channel,
                           channels=[c.value for c in Channel], timeline=contact_timeline(contact, channel=channel),
                           can_merge=access.may_merge_contacts(current_user), merge_form=MergeForm())


def _save(form: ContactForm, contact: Contact | None):
    fields = {name: (form[name].data or None) for name in ("first_name", "last_name", "email", "phone", "timezone",
                                                           "locale")}
    fields["last_name"] = fields["last_name"] or ""
    if contact is None:
        match = service.find_or_create_contact(actor=current_user, team_id=current_user.team_id,
                                               account=form.account.data or None, **fields)
        if not match.created:
            flash(_("%(name)s already exists (same %(on)s); here is the record.", name=match.contact.full_name,
                    on=match.matched_on), "info")
            return match.contact
        contact = match.contact
        contact.do_not_call, contact.email_opt_out = form.do_not_call.data, form.email_opt_out.data
        return contact
    return service.update_contact(contact, actor=current_user, account=form.account.data or "",
                                  do_not_call=form.do_not_call.data, email_opt_out=form.email_opt_out.data, **fields)


@bp.route("/contacts/new", methods=["GET", "POST"])
@login_required
def new():
    form = ContactForm()
    if form.validate_on_submit():
        try:
            contact = _save(form, None)
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            return redirect(url_for("contacts.show", contact_id=contact.id))
    return render_template("contacts/form.html", form=form, contact=None), 422 if form.errors else 200


@bp.route("/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@login_required
def edit(contact_id: int):
    contact = access.get_contact(current_user, contact_id)
    form = ContactForm(obj=contact)
    if request.method == "GET":
        form.account.data = contact.account.name if contact.account else ""
    if form.validate_on_submit():
        try:
            _save(form, contact)
        except DomainError as exc:
            db.session.rollback()
            contact = access.get_contact(current_user, contact_id)
            apply_errors(form, exc)
        else:
            flash(_("Contact saved."), "success")
            return redirect(url_for("contacts.show", contact_id=contact.id))
    return render_template("contacts/form.html", form=form, contact=contact), 422 if form.errors else 200


@bp.post("/contacts/<int:contact_id>/merge")
@login_required
def merge(contact_id: int):
    if not access.may_merge_contacts(current_user):
        flash(_("Only managers and admins merge contacts."), "danger")
        return redirect(url_for("contacts.show", contact_id=contact_id)), 303
    survivor = access.get_contact(current_user, contact_id)
    raw = (request.form.get("duplicate_id") or "").strip().lstrip("#")
    if not raw.isdigit():
        flash(_("Give the number of the duplicate contact."), "danger")
        return redirect(url_for("contacts.show", contact_id=contact_id))
    duplicate = access.get_contact(current_user, int(raw))
    service.merge_contacts(survivor, duplicate, actor=current_user)
    flash(_("Merged %(name)s into this contact.", name=duplicate.full_name), "success")
    return redirect(url_for("contacts.show", contact_id=survivor.id))


@bp.get("/accounts")
@login_required
def accounts():
    q = request.args.get("q", "").strip()
    stmt = select(Account)
    if q:
        stmt = stmt.where(account_name_matches(q))
    rows, cursor = page(stmt, Account.id, cursor=None, limit=100, session=db.session)
    return render_template("contacts/accounts.html", accounts=rows, q=q)


@bp.get("/accounts/<int:account_id>")
@login_required
def account(account_id: int):
    found = db.session.get(Account, account_id)
    if found is None:
        from crm.errors import NotFound

        raise NotFound(_("No such account."))
    contacts = db.session.scalars(access.visible_contacts(current_user).where(Contact.account_id == found.id)
                                  .order_by(collated(SORT_NAME, db.session), Contact.id).limit(200)).all()
    return render_template("contacts/account.html", account=found, contacts=contacts)
