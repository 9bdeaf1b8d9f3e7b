"""Users, passwords and API tokens."""

from __future__ import annotations

import secrets
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
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
        return "A password is required."
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        return "That password is too easy to guess."
    if email and password.lower() == email.lower():
        return "The password must not be the email address."
    return None


def normalise_email(raw: str, *, check_deliverability: bool = False) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=check_deliverability).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationFailed(str(exc), fields={"email": str(exc)}) from exc


def check_timezone(name: str, field: str = "timezone") -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(f"Unknown time zone {name!r}.", fields={field: "Use an IANA name such as Europe/Lisbon."}) from exc
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
        raise ValidationFailed("Unknown role.", fields={"role": "One of rep, field, manager, admin."}) from exc
    problem = password_problem(password, email)
    if problem:
        raise ValidationFailed(problem, fields={"password": problem})
    check_timezone(timezone)
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(f"A user with {email} already exists.", fields={"email": "Already taken."})
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
