"""Who may acknowledge: per-user bearer tokens (stored hashed) and signed, expiring ack links.

An ack link lets an officer acknowledge a page from a phone without logging in. It names
one alert and one receiver role, expires, and is signed with HMAC-SHA256; anything altered
or late is refused and changes nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from typing import Literal


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user_for_bearer(header: str | None, hashes: Mapping[str, str]) -> str | None:
    """The user whose token is in ``Authorization: Bearer …``, or None."""
    if not header or not header.startswith("Bearer "):
        return None
    digest = token_hash(header[len("Bearer ") :].strip())
    for known, user in hashes.items():
        if hmac.compare_digest(known, digest):
            return user
    return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def ack_token(secret: bytes, alert_id: str, role: str, expires: dt.datetime) -> str:
    claim = f"{alert_id}|{role}|{int(expires.timestamp())}".encode()
    return f"{_b64(claim)}.{_b64(hmac.new(secret, claim, hashlib.sha256).digest())}"


def check_ack_token(
    secret: bytes, token: str, now: dt.datetime
) -> tuple[Literal["ok", "invalid", "expired"], str, str]:
    """("ok", alert_id, role), or ("invalid" | "expired", "", "")."""
    try:
        claim_text, signature = token.split(".", 1)
        claim = _unb64(claim_text)
        if not hmac.compare_digest(_unb64(signature), hmac.new(secret, claim, hashlib.sha256).digest()):
            return "invalid", "", ""
        alert_id, role, expires = claim.decode().split("|")
        if now.timestamp() > int(expires):
            return "expired", "", ""
    except (ValueError, UnicodeDecodeError):
        return "invalid", "", ""
    return "ok", alert_id, role
