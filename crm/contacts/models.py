"""Accounts (companies), contacts (people) and their social handles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, event, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.contacts.folding import SEARCH_NAME_LENGTH, name_key
from crm.db import Base, TimestampMixin


class Account(TimestampMixin, Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))

    contacts: Mapped[list[Contact]] = relationship(back_populates="account")

    __table_args__ = (Index("ix_accounts_lower_name", func.lower(name)),)


def _search_name_default(context) -> str:
    """A Core INSERT (executemany, the webhook and bench paths) folds the row's own names."""
    row = context.get_current_parameters()
    return name_key(row.get("first_name"), row.get("last_name"))


class Contact(TimestampMixin, Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    first_name: Mapped[str] = mapped_column(String(120))
    last_name: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    locale: Mapped[str] = mapped_column(String(10), default="en")
    country: Mapped[str | None] = mapped_column(String(2))
    do_not_call: Mapped[bool] = mapped_column(default=False)
    email_opt_out: Mapped[bool] = mapped_column(default=False)
    # The team whose reps may see a contact with no lead of theirs (imports, inbound).
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    erased_at: Mapped[datetime | None]
    # The name folded for search (crm.contacts.folding): every write keeps it in step with the
    # names; COPY paths (imports, bench/generate.py) pass it themselves. Trigram-indexed on
    # PostgreSQL (migration 0015).
    search_name: Mapped[str] = mapped_column(String(SEARCH_NAME_LENGTH), default=_search_name_default)

    account: Mapped[Account | None] = relationship(back_populates="contacts")
    handles: Mapped[list[ContactHandle]] = relationship(back_populates="contact", cascade="all, delete-orphan")

    __table_args__ = (
        Index("ix_contacts_lower_email", func.lower(email)),
        Index("ix_contacts_phone", "phone"),
        Index("ix_contacts_lower_last_first", func.lower(last_name), func.lower(first_name)),
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def __repr__(self) -> str:
        return f"<Contact {self.id} {self.full_name}>"


@event.listens_for(Contact, "before_insert")
@event.listens_for(Contact, "before_update")
def _fold_name(mapper, connection, contact: Contact) -> None:
    contact.search_name = name_key(contact.first_name, contact.last_name)


class ContactHandle(Base):
    """A contact's handle on a social or chat platform (one owner per handle)."""

    __tablename__ = "contact_handles"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(40))
    handle: Mapped[str] = mapped_column(String(200))

    contact: Mapped[Contact] = relationship(back_populates="handles")

    __table_args__ = (UniqueConstraint("platform", "handle"),)
