"""Throttling failed attempts, and the access log that makes sessions revocable on every worker."""

from __future__ import annotations

import datetime as dt

import msgspec

from alerts.access import AccessLog, LinkUsed, Revocation, SessionRecord, record_key
from alerts.throttle import Throttle
from tests.conftest import T0

H = dt.timedelta(hours=1)
ROLES = {"insp-4411": "inspector", "obs-1": "viewer"}


def test_a_client_is_refused_after_the_limit_until_its_oldest_failure_leaves_the_window() -> None:
    throttle = Throttle(limit=3, window=60.0)
    keys = ("client:10.0.0.1", "user:insp-4411")
    for t in (0.0, 1.0, 2.0):
        assert throttle.retry_after(keys, t) is None
        throttle.failed(keys, t)
    assert throttle.retry_after(keys, 3.0) == 57.0
    assert throttle.retry_after(("client:10.0.0.2",), 3.0) is None, "another client is not held back"
    assert throttle.retry_after(("client:10.0.0.2", "user:insp-4411"), 3.0) == 57.0, "nor is the user freed by moving"
    assert throttle.retry_after(keys, 60.5) is None


def test_the_throttle_forgets_the_oldest_keys_under_a_flood() -> None:
    throttle = Throttle(limit=1, window=60.0, max_keys=100)
    for i in range(1000):
        throttle.failed((f"client:{i}",), 0.0)
    assert len(throttle.failures) == 100


def log_with(*records: tuple[bytes, object]) -> AccessLog:
    access = AccessLog()
    for key, record in records:
        access.apply(key, msgspec.json.encode(record))
    return access


def test_a_session_lives_until_it_ends_expires_is_revoked_or_its_user_changes() -> None:
    session = SessionRecord("insp-4411", "inspector", T0, T0 + 12 * H)
    access = log_with((record_key("session", "s1"), session))
    assert access.session("s1", T0 + H, ROLES) == session
    assert access.session("s1", T0 + 12 * H, ROLES) is None, "a maximum lifetime"
    assert access.session("s2", T0 + H, ROLES) is None
    assert access.session("s1", T0 + H, {"insp-4411": "viewer"}) is None, "a role changed: sign in again"
    assert access.session("s1", T0 + H, {}) is None, "a user removed"
    access.apply(record_key("user", "insp-4411"), msgspec.json.encode(Revocation("insp-4411", T0 + 2 * H, "admin-1")))
    assert access.session("s1", T0 + 3 * H, ROLES) is None
    later = SessionRecord("insp-4411", "inspector", T0 + 4 * H, T0 + 16 * H)
    access.apply(record_key("session", "s3"), msgspec.json.encode(later))
    assert access.session("s3", T0 + 5 * H, ROLES) == later, "a revocation ends sessions started before it"
    access.apply(record_key("session", "s3"), msgspec.json.encode(msgspec.structs.replace(later, ended=True)))
    assert access.session("s3", T0 + 5 * H, ROLES) is None, "signed out"


def test_used_links_are_remembered_and_unknown_records_ignored() -> None:
    access = log_with((record_key("link", "d1.slack"), LinkUsed("a1", T0, "duty_inspector (link sent to slack)")))
    access.apply(b"other:thing", b"{}")
    access.apply(b"session:x", None)
    assert set(access.used_links) == {"d1.slack"} and access.sessions == {}
