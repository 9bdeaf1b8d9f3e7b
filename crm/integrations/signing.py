"""HMAC-SHA256 signatures on webhook posts from other systems.

The sender signs ``f"{timestamp}.{raw body}"`` with the integration's secret and sends
the hex digest in ``X-Touchline-Signature`` and the Unix time in ``X-Touchline-Timestamp``.
A timestamp more than MAX_SKEW_SECONDS away from our clock (either way) is a replay.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from crm.integrations.models import Integration

SIGNATURE_HEADER = "X-Touchline-Signature"
TIMESTAMP_HEADER = "X-Touchline-Timestamp"
INTEGRATION_HEADER = "X-Touchline-Integration"
MAX_SKEW_SECONDS = 300


class SignatureRefused(Exception):
    """The post is not provably from this integration, or is too old: answer 401, change nothing."""


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The hex signature a sender puts in X-Touchline-Signature."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def secrets_in_force(integration: Integration, now: datetime) -> list[str]:
    """The current secret, and the previous one while its overlap lasts."""
    found = [integration.secret]
    expires = integration.previous_secret_expires_at
    if integration.previous_secret and expires is not None and now < expires:
        found.append(integration.previous_secret)
    return found


def verify(integration: Integration, body: bytes, signature: str | None, timestamp: str | None, now: datetime) -> None:
    """Raise SignatureRefused unless ``signature`` signs ``timestamp.body`` with a secret in force."""
    if not signature or not timestamp:
        raise SignatureRefused(f"{SIGNATURE_HEADER} and {TIMESTAMP_HEADER} are required.")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureRefused(f"{TIMESTAMP_HEADER} must be Unix seconds.")
    if abs(now.timestamp() - int(timestamp)) > MAX_SKEW_SECONDS:
        raise SignatureRefused(f"{TIMESTAMP_HEADER} is more than {MAX_SKEW_SECONDS} seconds from our clock.")
    given = signature.strip().lower().encode()
    # compare_digest on every secret in force, so the time taken does not say which matched.
    matched = [hmac.compare_digest(sign(secret, timestamp, body).encode(), given)
               for secret in secrets_in_force(integration, now)]
    if not any(matched):
        raise SignatureRefused("The signature does not verify.")
