"""Users, passwords and API tokens."""

from __future__ import annotations

import secrets
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select

from crm.api.blueprint import token_digest
from crm.audit.service import record
from crm.auth.models import ApiToken, Role, Team, User
from crm.errors import Conflict, ValidationFailed
from crm.extensions import db

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 10
COMMON_PASSWORDS = frozenset({
    "password", "password1", "password123", "1234567890", "12345678910", "qwertyuiop", "letmein123",
    "iloveyou12", "welcome123", "administrator", "passw0rd123", "touchline1", "changeme123",
})


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


def password_problem(password: str, email: str = "") -> str | None:
    """Why a password is too weak, or None when it will do."""
    if not password or not password.strip():
        return _("A password is required.")
    if len(password) < MIN_PASSWORD_LENGTH:
        return ngettext("Use at least %(num)d character.", "Use at least %(num)d characters.", MIN_PASSWORD_LENGTH)
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        return _("That password is too easy to guess.")
    if email and password.lower() == email.lower():
        return _("The password must not be the email address.")
    return None


def normalise_email(raw: str, *, check_deliverability: bool = False) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=check_deliverability).normalized.lower()
    except EmailNotValidError as exc:
        message = _("%(address)s is not an email address we can use.", address=raw.strip()[:254])
        raise ValidationFailed(message, fields={"email": message}) from exc


def check_timezone(name: str, field: str = "timezone") -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(_("Unknown time zone “%(name)s”.", name=name),
                               fields={field: _("Use an IANA name such as Europe/Lisbon.")}) from exc
    return name


def get_or_create_team(name: str) -> Team:
    team = db.session.scalar(select(Team).where(func.lower(Team.name) == name.strip().lower()))
    if team is None:
        team = Team(name=name.strip())
        db.session.add(team)
        db.session.flush()
    return team


def create_user(email: str, password: str, role: Role | str, *, name: str | None = None, team: str | None = None,
                timezone: str = "UTC", locale: str = "en", hourly_cost: Decimal | None = None, actor=None) -> User:
    """Create a user; the team is created if it does not exist. Weak passwords are refused."""
    email = normalise_email(email)
    try:
        role = Role(role)
    except ValueError as exc:
        raise ValidationFailed(_("Unknown role."), fields={"role": _("One of rep, field, manager, admin.")}) from exc
    problem = password_problem(password, email)
    if problem:
        raise ValidationFailed(problem, fields={"password": problem})
    check_timezone(timezone)
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(_("A user with %(email)s already exists.", email=email), fields={"email": _("Already taken.")})
    user = User(
        email=email, name=(name or email.split("@")[0]).strip(), password_hash=hash_password(password), role=role,
        team=get_or_create_team(team) if team else None, timezone=timezone, locale=locale,
        hourly_cost=hourly_cost or Decimal("0"), calendar_secret=secrets.token_urlsafe(24),
    )
    db.session.add(user)
    db.session.flush()
    record(actor, "user.created", user, {"email": email, "role": role})
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None (same answer for both mistakes)."""
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        _hasher.hash(password)  # spend the same time, so timing does not reveal which emails exist
        return None
    if not user.active or not check_password(user, password):
        return None
    return user


def create_token(user: User, name: str = "") -> str:
    """Make a new API token for ``user``; returns the token, of which only a hash is kept."""
    token = "tl_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=token_digest(token), name=name))
    db.session.flush()
    return token


def update_user(user: User, *, actor=None, password: str | None = None, **fields) -> User:
    """Change a user's settings (role, team, active, capacity, cost, zone, locale, territory, name)."""
    changes = {}
    if "timezone" in fields:
        check_timezone(fields["timezone"])
    if "role" in fields:
        try:
            fields["role"] = Role(fields["role"])
        except ValueError as exc:
            raise ValidationFailed(_("Unknown role."), fields={"role": _("One of rep, field, manager, admin.")}) from exc
    if fields.get("capacity") is not None and fields["capacity"] < 0:
        raise ValidationFailed(_("Capacity cannot be negative."), fields={"capacity": _("0 or more, or empty for no cap.")})
    if fields.get("hourly_cost") is not None and fields["hourly_cost"] < 0:
        raise ValidationFailed(_("Hourly cost cannot be negative."), fields={"hourly_cost": _("0 or more.")})
    demoting = fields.get("active") is False or fields.get("role", user.role) != user.role
    if actor is not None and actor.id == user.id and demoting:
        raise ValidationFailed(_("You cannot deactivate yourself or change your own role."),
                               fields={"role": _("Ask another admin.")})
    for name, value in fields.items():
        if getattr(user, name) != value:
            changes[name] = value
            setattr(user, name, value)
    if password:
        problem = password_problem(password, user.email)
        if problem:
            raise ValidationFailed(problem, fields={"password": problem})
        user.password_hash = hash_password(password)
        changes["password"] = "changed"  # noqa: S105 (an audit note, not a secret)
    db.session.flush()
    if changes:
        record(actor, "user.updated", user, changes)
    return user


def update_team(team: Team, *, actor=None, **fields) -> Team:
    """Change a team's settings (name, zone, pool mode, speed-to-lead and hand-off rules)."""
    if "timezone" in fields:
        check_timezone(fields["timezone"])
    name = fields.get("name")
    if name is not None:
        if not name.strip():
            raise ValidationFailed(_("A team needs a name."), fields={"name": _("Required.")})
        clash = db.session.scalar(select(Team.id).where(func.lower(Team.name) == name.strip().lower(), Team.id != team.id))
        if clash:
            raise Conflict(_("Another team has that name."), fields={"name": _("Already taken.")})
        fields["name"] = name.strip()
    limits = {"speed_to_lead_seconds": (1, 86400 * 7), "handoff_sla_hours": (1, 24 * 30), "handoff_min_criteria": (0, 4)}
    for key, (low, high) in limits.items():
        if key in fields and not (low <= fields[key] <= high):
            raise ValidationFailed(_("%(setting)s must be between %(low)d and %(high)d.", setting=key, low=low, high=high),
                                   fields={key: _("Between %(low)d and %(high)d.", low=low, high=high)})
    changes = {k: v for k, v in fields.items() if getattr(team, k) != v}
    for name, value in changes.items():
        setattr(team, name, value)
    db.session.flush()
    if changes:
        record(actor, "team.updated", team, changes)
    return team
