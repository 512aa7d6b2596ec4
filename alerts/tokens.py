"""Who may do what: generated bearer tokens, their stored credentials, and signed tokens
for each separate purpose (console sessions, acknowledgement links).

Separate keys for separate jobs. A session cookie and an ack link are each signed with
their own key *and* a salt naming their purpose (itsdangerous), so even a deployment that
configured one key for both could not turn a link posted to a chat channel into a console
session. Webhook signing keys are the receivers' own (Standard Webhooks).

Bearer tokens are generated (``watchkeeper users add``), never chosen: 32 random bytes. The
configuration holds only a salted SHA-256 of each (``sha256$<salt>$<digest>``). With 256
bits of entropy nobody can guess a token, so a slow password hash would only add latency to
every request; the salt keeps a leaked file from being matched against precomputed hashes
or against another deployment's file (docs/decisions.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from typing import Any, Final, Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

TOKEN_PREFIX: Final = "wk_"
MIN_TOKEN_LENGTH: Final = 40
"""A generated token is ``wk_`` and 43 base64url characters; anything much shorter was typed by hand."""
CREDENTIAL: Final = re.compile(r"^sha256\$([0-9a-f]{32})\$([0-9a-f]{64})$")
MIN_KEY_BYTES: Final = 32
WEAK_KEY_WORDS: Final = ("change-me", "changeme", "change_me", "example", "password", "secret", "default")
SESSION_PURPOSE: Final = "watchkeeper.console-session"
ACK_LINK_PURPOSE: Final = "watchkeeper.ack-link"


class WeakKeyError(ValueError):
    """A key is missing, too short, a placeholder, or reused for another purpose."""


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def credential_for(token: str, salt: str | None = None) -> str:
    """What the configuration stores for ``token``: salted SHA-256, never the token."""
    salt = salt or secrets.token_hex(16)
    return f"sha256${salt}${hashlib.sha256(bytes.fromhex(salt) + token.encode()).hexdigest()}"


def is_credential(text: str) -> bool:
    return CREDENTIAL.fullmatch(text) is not None


def matches(token: str, credential: str) -> bool:
    found = CREDENTIAL.fullmatch(credential)
    if found is None:
        return False
    expected = credential_for(token, found.group(1))
    return hmac.compare_digest(expected, credential)


def user_for_token(token: str, credentials: Mapping[str, str]) -> str | None:
    """The user whose credential ``token`` matches, or None. Short or non-ASCII input is refused unhashed."""
    if len(token) < MIN_TOKEN_LENGTH or len(token) > 200 or not token.isascii():
        return None
    found = None
    for user, credential in credentials.items():  # every user is tried: the time does not say which matched
        if matches(token, credential):
            found = user
    return found


def user_for_bearer(header: str | None, credentials: Mapping[str, str]) -> str | None:
    """The user whose token is in ``Authorization: Bearer …``, or None."""
    if not header or not header.startswith("Bearer "):
        return None
    return user_for_token(header[len("Bearer ") :].strip(), credentials)


def check_key(value: str | bytes | None, what: str) -> bytes:
    """A signing key fit for production: present, at least 32 bytes, not a placeholder."""
    if not value:
        raise WeakKeyError(f"{what} is not set: generate one with `openssl rand -hex 32` and pass it as a secret")
    raw = value.encode() if isinstance(value, str) else value
    if len(raw) < MIN_KEY_BYTES:
        raise WeakKeyError(f"{what} is too short ({len(raw)} bytes; at least {MIN_KEY_BYTES})")
    lowered = raw.decode(errors="replace").lower()
    if any(word in lowered for word in WEAK_KEY_WORDS) or len(set(raw)) < 8:
        raise WeakKeyError(f"{what} looks like a placeholder, not a random key")
    return raw


# ----------------------------------------------------------------------------- signed tokens
def _serializer(key: bytes, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=purpose)


def sign_session(key: bytes, session_id: str) -> str:
    return str(_serializer(key, SESSION_PURPOSE).dumps(session_id))


def read_session_cookie(key: bytes, cookie: str, max_age: dt.timedelta) -> str | None:
    """The session id a cookie carries, if this key signed it for sessions within ``max_age``."""
    try:
        value = _serializer(key, SESSION_PURPOSE).loads(cookie, max_age=int(max_age.total_seconds()))
    except (BadSignature, UnicodeError, ValueError):
        return None
    return value if isinstance(value, str) else None


def ack_token(key: bytes, alert_id: str, role: str, receiver: str, link_id: str) -> str:
    """A link to acknowledge one alert, naming who it was sent to; ``link_id`` makes it single-use."""
    return str(_serializer(key, ACK_LINK_PURPOSE).dumps({"a": alert_id, "r": role, "to": receiver, "n": link_id}))


def check_ack_token(
    key: bytes, token: str, max_age: dt.timedelta
) -> tuple[Literal["ok", "invalid", "expired"], dict[str, str]]:
    """("ok", claim) with alert_id, role, receiver and link_id; or ("invalid" | "expired", {})."""
    try:
        claim: Any = _serializer(key, ACK_LINK_PURPOSE).loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired:
        return "expired", {}
    except (BadSignature, UnicodeError, ValueError):
        return "invalid", {}
    if not isinstance(claim, dict) or not all(isinstance(claim.get(k), str) for k in ("a", "r", "to", "n")):
        return "invalid", {}
    return "ok", {"alert_id": claim["a"], "role": claim["r"], "receiver": claim["to"], "link_id": claim["n"]}
