"""Notification configuration: receivers, escalation policies by role, routes, users, heartbeat.

One YAML file (``WATCHKEEPER_NOTIFY``), validated on load; every error names the file and the
field. Secrets are never written in it: ``secrets: [env:WK_SECRET_A]`` names environment
variables, so rotating a key is adding a variable and a list entry, then removing the old one.
Users' bearer tokens are stored as SHA-256 hashes only.

Without a file, the settings give a minimal configuration: the console, plus one generic
receiver at ``WATCHKEEPER_WEBHOOK_URL`` if set, paged once per alert.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import msgspec
import yaml

from agents.durations import parse_duration

Format = Literal["generic", "slack", "teams", "pagerduty", "alertmanager"]
Severity = Literal["info", "low", "medium", "high", "critical"]
_MSGSPEC_PATH: Final = re.compile(r" - at `\$(.*)`$")


class ConfigError(ValueError):
    """The notification file is invalid; the message names the file and the field."""


# ----------------------------------------------------------------------------- file schema
class _Receiver(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    format: Format = "generic"
    secrets: list[str] = []
    """``env:NAME`` entries (or literal ``whsec_…`` in tests); several at once during rotation."""
    routing_key: str | None = None
    """PagerDuty Events v2 integration key (``env:NAME``)."""


class _Tier(msgspec.Struct, forbid_unknown_fields=True):
    role: str
    after: str = "0s"


class _Policy(msgspec.Struct, forbid_unknown_fields=True):
    tiers: list[_Tier]
    repeat: int = 0
    """How many more times the whole ladder runs again if nobody acknowledges."""
    repeat_after: str = "15m"
    """Pause after the last tier before the ladder runs again."""
    ack_stops_escalation: bool = True
    ack_timeout: str | None = None
    """An acknowledged alert not yet satisfied after this long is notified again."""


class _Match(msgspec.Struct, forbid_unknown_fields=True):
    rule: list[str] = []
    """Glob patterns on the rule id: ``custody.*``."""
    severity: list[Severity] = []
    area: list[str] = []


class _Route(msgspec.Struct, forbid_unknown_fields=True):
    policy: str
    match: _Match = msgspec.field(default_factory=_Match)


Role = Literal["viewer", "inspector", "admin"]
"""viewer: sees the console. inspector: also acknowledges. admin: everything."""


class _User(msgspec.Struct, forbid_unknown_fields=True):
    user: str
    token_sha256: str
    role: Role = "inspector"


class _Heartbeat(msgspec.Struct, forbid_unknown_fields=True):
    interval: str = "60s"
    receivers: list[str] = []


class _File(msgspec.Struct, forbid_unknown_fields=True):
    receivers: dict[str, _Receiver]
    roles: dict[str, list[str]]
    policies: dict[str, _Policy]
    routes: list[_Route]
    fallback: str | None = None
    users: list[_User] = []
    ack_link_secret: str | None = None
    ack_link_ttl: str = "24h"
    session_secret: str | None = None
    """Signs console sessions; the same on every worker so any of them serves the console."""
    public_url: str = "http://127.0.0.1:6066"
    heartbeat: _Heartbeat | None = None


# ----------------------------------------------------------------------------- loaded model
@dataclass(frozen=True)
class Receiver:
    name: str
    url: str
    format: Format
    secrets: tuple[str, ...] = ()
    routing_key: str | None = None


@dataclass(frozen=True)
class Tier:
    role: str
    after: dt.timedelta


@dataclass(frozen=True)
class Policy:
    name: str
    tiers: tuple[Tier, ...]
    repeat: int = 0
    repeat_after: dt.timedelta = dt.timedelta(minutes=15)
    ack_stops_escalation: bool = True
    ack_timeout: dt.timedelta | None = None

    def steps(self) -> list[tuple[str, str, dt.timedelta]]:
        """(step key, role, offset from when the alert was raised) for every notification the
        ladder makes if nobody acknowledges, in time order. Keys name steps in delivery ids."""
        ladder = max(t.after for t in self.tiers)
        out = []
        for r in range(self.repeat + 1):
            start = r * (ladder + self.repeat_after)
            out += [(f"r{r}t{i}", t.role, start + t.after) for i, t in enumerate(self.tiers)]
        return sorted(out, key=lambda step: step[2])


@dataclass(frozen=True)
class Route:
    policy: str
    rules: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()

    def matches(self, rule_id: str, severity: str, area: str | None) -> bool:
        return (
            (not self.rules or any(fnmatch.fnmatchcase(rule_id, p) for p in self.rules))
            and (not self.severities or severity in self.severities)
            and (not self.areas or area in self.areas)
        )


@dataclass(frozen=True)
class NotifyConfig:
    receivers: dict[str, Receiver]
    roles: dict[str, tuple[str, ...]]
    policies: dict[str, Policy]
    routes: tuple[Route, ...]
    fallback: str | None = None
    user_tokens: dict[str, str] = field(default_factory=dict)
    """sha256 hex of a bearer token -> user."""
    user_roles: dict[str, str] = field(default_factory=dict)
    session_secret: bytes | None = None
    ack_link_secret: bytes | None = None
    ack_link_ttl: dt.timedelta = dt.timedelta(hours=24)
    public_url: str = "http://127.0.0.1:6066"
    heartbeat_interval: dt.timedelta | None = None
    heartbeat_receivers: tuple[str, ...] = ()
    source: str = "(settings)"

    def route(self, rule_id: str, severity: str, area: str | None) -> Policy:
        """The first route that matches; a config always ends with a catch-all (checked on load)."""
        for route in self.routes:
            if route.matches(rule_id, severity, area):
                return self.policies[route.policy]
        raise LookupError(rule_id)  # pragma: no cover - load() guarantees a catch-all

    def receivers_for(self, role: str) -> tuple[Receiver, ...]:
        return tuple(self.receivers[name] for name in self.roles.get(role, ()))


def _secret(value: str, where: str, environ: Mapping[str, str]) -> str:
    if value.startswith("env:"):
        name = value[4:]
        if name not in environ or not environ[name]:
            raise ConfigError(f"{where}: environment variable {name} is not set")
        return environ[name]
    return value


def _duration(text: str, where: str) -> dt.timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def load(path: Path, environ: Mapping[str, str] = os.environ) -> NotifyConfig:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        file = msgspec.convert(raw, _File)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except msgspec.ValidationError as exc:
        found = _MSGSPEC_PATH.search(str(exc))
        where = f"{path}: field {found.group(1).lstrip('.')!r}" if found else str(path)
        message = str(exc)[: found.start()] if found else str(exc)
        raise ConfigError(f"{where}: {message}") from None
    at = str(path)
    receivers = {}
    for name, r in file.receivers.items():
        where = f"{at}: field 'receivers.{name}"
        if not r.url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}.url': not an http(s) URL")
        if r.format == "pagerduty" and not r.routing_key:
            raise ConfigError(f"{where}.routing_key': a pagerduty receiver needs its integration key")
        secrets = tuple(_secret(s, f"{where}.secrets'", environ) for s in r.secrets)
        routing_key = _secret(r.routing_key, f"{where}.routing_key'", environ) if r.routing_key else None
        receivers[name] = Receiver(name, r.url, r.format, secrets, routing_key)
    for role, names in file.roles.items():
        for name in names:
            if name not in receivers:
                raise ConfigError(f"{at}: field 'roles.{role}': no receiver named {name!r}")
    policies = {}
    for name, p in file.policies.items():
        if not p.tiers:
            raise ConfigError(f"{at}: field 'policies.{name}.tiers': a policy needs at least one tier")
        tiers = []
        for i, t in enumerate(p.tiers):
            if t.role not in file.roles:
                raise ConfigError(f"{at}: field 'policies.{name}.tiers[{i}].role': no role named {t.role!r}")
            tiers.append(Tier(t.role, _duration(t.after, f"{at}: field 'policies.{name}.tiers[{i}].after'")))
        timeout = _duration(p.ack_timeout, f"{at}: field 'policies.{name}.ack_timeout'") if p.ack_timeout else None
        again = _duration(p.repeat_after, f"{at}: field 'policies.{name}.repeat_after'")
        if p.repeat < 0:
            raise ConfigError(f"{at}: field 'policies.{name}.repeat': must be zero or more")
        policies[name] = Policy(name, tuple(tiers), p.repeat, again, p.ack_stops_escalation, timeout)
    routes = []
    for i, route in enumerate(file.routes):
        if route.policy not in policies:
            raise ConfigError(f"{at}: field 'routes[{i}].policy': no policy named {route.policy!r}")
        m = route.match
        routes.append(Route(route.policy, tuple(m.rule), tuple(m.severity), tuple(m.area)))
    if not routes or routes[-1].rules or routes[-1].severities or routes[-1].areas:
        raise ConfigError(f"{at}: field 'routes': the last route must match everything, so no alert goes unrouted")
    for name in (file.fallback, *(file.heartbeat.receivers if file.heartbeat else ())):
        if name is not None and name not in receivers:
            raise ConfigError(f"{at}: no receiver named {name!r} (fallback or heartbeat)")
    secret = _secret(file.ack_link_secret, f"{at}: field 'ack_link_secret'", environ) if file.ack_link_secret else None
    return NotifyConfig(
        receivers=receivers,
        roles={role: tuple(names) for role, names in file.roles.items()},
        policies=policies,
        routes=tuple(routes),
        fallback=file.fallback,
        user_tokens={u.token_sha256.lower(): u.user for u in file.users},
        user_roles={u.user: u.role for u in file.users},
        session_secret=(
            _secret(file.session_secret, f"{at}: field 'session_secret'", environ).encode()
            if file.session_secret
            else secret.encode()
            if secret
            else None
        ),
        ack_link_secret=secret.encode() if secret else None,
        ack_link_ttl=_duration(file.ack_link_ttl, f"{at}: field 'ack_link_ttl'"),
        public_url=file.public_url.rstrip("/"),
        heartbeat_interval=_duration(file.heartbeat.interval, f"{at}: field 'heartbeat.interval'")
        if file.heartbeat
        else None,
        heartbeat_receivers=tuple(file.heartbeat.receivers) if file.heartbeat else (),
        source=at,
    )


def from_settings(webhook_url: str | None, secret: str | None = None, console_users: str = "") -> NotifyConfig:
    """No notification file: the console, and one generic receiver if a URL is set.

    ``console_users`` is ``user:role:sha256-of-token`` entries, comma-separated
    (``WATCHKEEPER_CONSOLE_USERS``), for a deployment without a notification file."""
    secrets = (secret,) if secret else ()
    receivers = {"webhook": Receiver("webhook", webhook_url, "generic", secrets)} if webhook_url else {}
    users = [entry.split(":") for entry in console_users.split(",") if entry.strip()]
    for parts in users:
        if len(parts) != 3 or parts[1] not in ("viewer", "inspector", "admin"):
            raise ConfigError("WATCHKEEPER_CONSOLE_USERS: each entry is user:viewer|inspector|admin:sha256")
    return NotifyConfig(
        receivers=receivers,
        roles={"on_call": tuple(receivers)},
        policies={"default": Policy("default", (Tier("on_call", dt.timedelta(0)),))},
        routes=(Route("default"),),
        user_tokens={digest.lower(): user for user, _, digest in users},
        user_roles={user: role for user, role, _ in users},
        session_secret=os.urandom(32),
    )


def describe(config: NotifyConfig) -> dict[str, Any]:
    """A summary for logs: names only, never URLs' secrets or tokens."""
    return {"receivers": sorted(config.receivers), "policies": sorted(config.policies), "source": config.source}
