"""Notification configuration: receivers, escalation policies by role, routes, users, heartbeat.

One YAML file (``WATCHKEEPER_NOTIFY``), validated on load; every error names the file and the
field. Secrets are never written in it: ``secrets: [env:WK_SECRET_A]`` names environment
variables, so rotating a key is adding a variable and a list entry, then removing the old one.
Users' bearer tokens are stored as salted hashes only, and every signing key is checked at
load: missing, short, placeholder or shared keys stop start-up (alerts/tokens.py).

Without a file, ``from_settings`` gives a minimal configuration: the console, plus one
generic receiver at ``WATCHKEEPER_WEBHOOK_URL`` if set, paged once per alert.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import msgspec
import yaml

from agents.durations import parse_duration
from agents.vocabulary import Severity
from alerts.tokens import WeakKeyError, check_key, is_credential

Format = Literal["generic", "slack", "teams", "pagerduty", "alertmanager"]
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
    ack_links: bool | None = None
    """Whether pages carry a one-click acknowledgement link. Default: yes for people's channels
    (generic, Slack, Teams); no for machine receivers (PagerDuty, Alertmanager), whose stored
    alerts others can read: they link to the console's case page, behind sign-in."""
    resend: str = "1m"
    """Alertmanager receivers: how often an open alert is sent again. Alertmanager resolves an
    alert it has not heard of by its ``endsAt`` (set to four of these ahead), as its clients
    are expected to re-send what is still firing."""


class _Tier(msgspec.Struct, forbid_unknown_fields=True):
    role: str
    after: str = "0s"


class _EscalationPolicy(msgspec.Struct, forbid_unknown_fields=True):
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
    horizon: str = "5m"
    """An alert raised this long after its stage passed is historical: recorded, never paged."""


Access = Literal["viewer", "inspector", "admin", "ingest"]
"""What a token may do: a viewer sees the console, an inspector also acknowledges, an admin may
also revoke sessions. ``ingest`` is a force system's, not a person's: it posts events to
``POST /events`` and can do nothing else, not even see the console. (A *role* is something
else: whom an escalation policy pages, such as the duty inspector.)"""
ACCESS_LEVELS: Final[tuple[Access, ...]] = ("viewer", "inspector", "admin", "ingest")


class _User(msgspec.Struct, forbid_unknown_fields=True):
    user: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    token_hash: str
    """``sha256$<salt>$<digest>`` as printed by ``watchkeeper users add``; never the token."""
    access: Access = "inspector"
    areas: list[Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,127}$")]] = []
    """The areas or custody suites this person may see; empty: all. Outside them they see
    nothing: no alert, clock, case or stream event."""


class _Heartbeat(msgspec.Struct, forbid_unknown_fields=True):
    interval: str = "60s"
    receivers: list[str] = []


class _File(msgspec.Struct, forbid_unknown_fields=True):
    receivers: dict[str, _Receiver]
    roles: dict[str, list[str]]
    policies: dict[str, _EscalationPolicy]
    routes: list[_Route]
    fallback: str | None = None
    users: list[_User] = []
    ack_link_secret: str | None = None
    ack_link_ttl: str = "24h"
    session_secret: str | None = None
    """Signs console session cookies (``env:NAME``); the same on every worker so any of them
    serves the console. Required when there are users; never the ack-link key."""
    session_hours: float = 12
    public_url: str = "http://127.0.0.1:6066"
    heartbeat: _Heartbeat | None = None


# ----------------------------------------------------------------------------- loaded model
MACHINE_FORMATS: Final = ("pagerduty", "alertmanager")


@dataclass(frozen=True)
class Receiver:
    name: str
    url: str
    format: Format
    secrets: tuple[str, ...] = ()
    routing_key: str | None = None
    ack_links: bool = True
    resend: dt.timedelta | None = None
    """Alertmanager receivers only: how often an open alert is sent again."""


@dataclass(frozen=True)
class Tier:
    role: str
    after: dt.timedelta


@dataclass(frozen=True)
class EscalationPolicy:
    """Whom to page about an alert, by role, and when: the tiers of a ladder, run again if nobody
    acknowledges. Routed when the alert is first raised (``NotifyConfig.route``)."""

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


DEFAULT_HORIZON: Final = dt.timedelta(minutes=5)
"""How late an alert may be raised and still page: a live monitor raises within seconds, so
anything older comes from loading history or a long backlog (docs/notifications.md)."""


@dataclass(frozen=True)
class Route:
    policy: str
    rules: tuple[str, ...] = ()
    severities: tuple[Severity, ...] = ()
    areas: tuple[str, ...] = ()
    horizon: dt.timedelta = DEFAULT_HORIZON
    """An alert whose stage passed longer ago than this when it is raised is historical."""

    def matches(self, rule_id: str, severity: Severity, area: str | None) -> bool:
        return (
            (not self.rules or any(fnmatch.fnmatchcase(rule_id, p) for p in self.rules))
            and (not self.severities or severity in self.severities)
            and (not self.areas or area in self.areas)
        )


@dataclass(frozen=True)
class NotifyConfig:
    receivers: dict[str, Receiver]
    roles: dict[str, tuple[str, ...]]
    policies: dict[str, EscalationPolicy]
    routes: tuple[Route, ...]
    fallback: str | None = None
    user_credentials: dict[str, str] = field(default_factory=dict)
    """user -> stored credential of their bearer token (alerts/tokens.py)."""
    user_access: dict[str, Access] = field(default_factory=dict)
    user_areas: dict[str, frozenset[str]] = field(default_factory=dict)
    """user -> the areas they may see, casefolded; a user not here sees every area."""
    session_secret: bytes | None = None
    session_lifetime: dt.timedelta = dt.timedelta(hours=12)
    ack_link_secret: bytes | None = None
    ack_link_ttl: dt.timedelta = dt.timedelta(hours=24)
    public_url: str = "http://127.0.0.1:6066"
    heartbeat_interval: dt.timedelta | None = None
    heartbeat_receivers: tuple[str, ...] = ()
    source: str = "(settings)"

    def route(self, rule_id: str, severity: Severity, area: str | None) -> EscalationPolicy:
        """The first route that matches; a config always ends with a catch-all (checked on load)."""
        return self.policies[self.matching(rule_id, severity, area).policy]

    def matching(self, rule_id: str, severity: Severity, area: str | None) -> Route:
        for route in self.routes:
            if route.matches(rule_id, severity, area):
                return route
        raise LookupError(rule_id)  # pragma: no cover - load() guarantees a catch-all

    def receivers_for(self, role: str) -> tuple[Receiver, ...]:
        return tuple(self.receivers[name] for name in self.roles.get(role, ()))

    def resend_for(self, policy: EscalationPolicy) -> dt.timedelta | None:
        """How often an alert escalated by ``policy`` must be sent again: the shortest ``resend``
        of the Alertmanager receivers its roles reach, or None if they reach none."""
        every = [r.resend for t in policy.tiers for r in self.receivers_for(t.role) if r.resend is not None]
        return min(every, default=None)


def _secret(value: str, where: str, environ: Mapping[str, str]) -> str:
    if value.startswith("env:"):
        name = value[4:]
        if name not in environ or not environ[name]:
            raise ConfigError(f"{where}: environment variable {name} is not set")
        return environ[name]
    return value


def _key(value: str | None, where: str, environ: Mapping[str, str]) -> bytes:
    """A signing key from the environment, refused at start-up if missing, short or a placeholder."""
    try:
        return check_key(_secret(value, where, environ) if value else None, where)
    except WeakKeyError as exc:
        raise ConfigError(str(exc)) from None


def _duration(text: str, where: str) -> dt.timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


_REFUSED_USER_FIELDS: Final = {
    "token_sha256": "hand-made token hashes are refused; make a token and its token_hash with "
    "`watchkeeper users add NAME --access LEVEL`",
    "role": "renamed 'access' (viewer, inspector or admin): a role is whom an escalation policy pages",
}


def _read(path: Path) -> _File:
    try:
        with path.open(encoding="utf-8") as stream:  # a YAML error names the file
            raw = yaml.safe_load(stream)
        users = (raw or {}).get("users") or [] if isinstance(raw, dict) else []
        for i, user in enumerate(users):
            for name, why in _REFUSED_USER_FIELDS.items():
                if isinstance(user, dict) and name in user:
                    raise ConfigError(f"{path}: field 'users[{i}].{name}': {why}")
        return msgspec.convert(raw, _File)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except msgspec.ValidationError as exc:
        found = _MSGSPEC_PATH.search(str(exc))
        where = f"{path}: field {found.group(1).lstrip('.')!r}" if found else str(path)
        message = str(exc)[: found.start()] if found else str(exc)
        raise ConfigError(f"{where}: {message}") from None


def _receivers(file: _File, at: str, environ: Mapping[str, str]) -> dict[str, Receiver]:
    receivers = {}
    for name, r in file.receivers.items():
        where = f"{at}: field 'receivers.{name}"
        if not r.url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}.url': not an http(s) URL")
        if r.format == "pagerduty" and not r.routing_key:
            raise ConfigError(f"{where}.routing_key': a pagerduty receiver needs its integration key")
        secrets = tuple(_secret(s, f"{where}.secrets'", environ) for s in r.secrets)
        routing_key = _secret(r.routing_key, f"{where}.routing_key'", environ) if r.routing_key else None
        links = r.ack_links if r.ack_links is not None else r.format not in MACHINE_FORMATS
        resend = _duration(r.resend, f"{where}.resend'") if r.format == "alertmanager" else None
        if resend is not None and resend < dt.timedelta(seconds=1):
            raise ConfigError(f"{where}.resend': at least 1s")
        receivers[name] = Receiver(name, r.url, r.format, secrets, routing_key, links, resend)
    for role, names in file.roles.items():
        for name in names:
            if name not in receivers:
                raise ConfigError(f"{at}: field 'roles.{role}': no receiver named {name!r}")
    for name in (file.fallback, *(file.heartbeat.receivers if file.heartbeat else ())):
        if name is not None and name not in receivers:
            raise ConfigError(f"{at}: no receiver named {name!r} (fallback or heartbeat)")
    return receivers


def _escalation_policies(file: _File, at: str) -> dict[str, EscalationPolicy]:
    policies = {}
    for name, p in file.policies.items():
        where = f"{at}: field 'policies.{name}"
        if not p.tiers:
            raise ConfigError(f"{where}.tiers': a policy needs at least one tier")
        tiers = []
        for i, t in enumerate(p.tiers):
            if t.role not in file.roles:
                raise ConfigError(f"{where}.tiers[{i}].role': no role named {t.role!r}")
            tiers.append(Tier(t.role, _duration(t.after, f"{where}.tiers[{i}].after'")))
        timeout = _duration(p.ack_timeout, f"{where}.ack_timeout'") if p.ack_timeout else None
        again = _duration(p.repeat_after, f"{where}.repeat_after'")
        if p.repeat < 0:
            raise ConfigError(f"{where}.repeat': must be zero or more")
        policies[name] = EscalationPolicy(name, tuple(tiers), p.repeat, again, p.ack_stops_escalation, timeout)
    return policies


def _routes(file: _File, policies: Mapping[str, EscalationPolicy], at: str) -> tuple[Route, ...]:
    routes = []
    for i, route in enumerate(file.routes):
        if route.policy not in policies:
            raise ConfigError(f"{at}: field 'routes[{i}].policy': no policy named {route.policy!r}")
        m = route.match
        horizon = _duration(route.horizon, f"{at}: field 'routes[{i}].horizon'")
        routes.append(Route(route.policy, tuple(m.rule), tuple(m.severity), tuple(m.area), horizon))
    if not routes or routes[-1].rules or routes[-1].severities or routes[-1].areas:
        raise ConfigError(f"{at}: field 'routes': the last route must match everything, so no alert goes unrouted")
    return tuple(routes)


def _signing_keys(
    file: _File, receivers: Mapping[str, Receiver], at: str, environ: Mapping[str, str]
) -> tuple[bytes | None, bytes | None]:
    """(session key, ack-link key): each checked, and never the same key as another job's."""
    webhook_keys = {s.encode() for r in receivers.values() for s in r.secrets}
    link_key = _key(file.ack_link_secret, f"{at}: field 'ack_link_secret'", environ) if file.ack_link_secret else None
    session_key = (
        _key(file.session_secret, f"{at}: field 'session_secret'", environ)
        if file.session_secret or file.users
        else None
    )
    if session_key is not None and session_key == link_key:
        raise ConfigError(f"{at}: field 'session_secret': must differ from ack_link_secret (one key, one job)")
    if webhook_keys & {session_key, link_key}:
        raise ConfigError(f"{at}: a receiver's webhook secret is also the session or ack-link key: use separate keys")
    return session_key, link_key


def load(path: Path, environ: Mapping[str, str]) -> NotifyConfig:
    """The notification file at ``path``; ``env:NAME`` secrets are read from ``environ``."""
    file, at = _read(path), str(path)
    receivers = _receivers(file, at, environ)
    policies = _escalation_policies(file, at)
    routes = _routes(file, policies, at)
    for i, u in enumerate(file.users):
        if not is_credential(u.token_hash):
            raise ConfigError(f"{at}: field 'users[{i}].token_hash': not a credential made by `watchkeeper users add`")
    if len({u.user for u in file.users}) != len(file.users):
        raise ConfigError(f"{at}: field 'users': a user is listed twice")
    session_key, link_key = _signing_keys(file, receivers, at, environ)
    heartbeat = file.heartbeat
    return NotifyConfig(
        receivers=receivers,
        roles={role: tuple(names) for role, names in file.roles.items()},
        policies=policies,
        routes=routes,
        fallback=file.fallback,
        user_credentials={u.user: u.token_hash for u in file.users},
        user_access={u.user: u.access for u in file.users},
        user_areas={u.user: frozenset(a.casefold() for a in u.areas) for u in file.users if u.areas},
        session_secret=session_key,
        session_lifetime=dt.timedelta(hours=file.session_hours),
        ack_link_secret=link_key,
        ack_link_ttl=_duration(file.ack_link_ttl, f"{at}: field 'ack_link_ttl'"),
        public_url=file.public_url.rstrip("/"),
        heartbeat_interval=_duration(heartbeat.interval, f"{at}: field 'heartbeat.interval'") if heartbeat else None,
        heartbeat_receivers=tuple(heartbeat.receivers) if heartbeat else (),
        source=at,
    )


ConsoleUser = tuple[str, Access, str, frozenset[str]]
"""(user, access, credential, areas: empty for all)."""
_AREA: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/#-]{0,127}")


def parse_console_users(entries: str) -> list[ConsoleUser]:
    """``user:access:credential[:AREA|AREA]`` entries, comma-separated (``WATCHKEEPER_CONSOLE_USERS``)."""
    users: list[ConsoleUser] = []
    for entry in entries.split(","):
        if not entry.strip():
            continue
        parts = entry.strip().split(":")
        areas = parts[3].split("|") if len(parts) == 4 else []
        if (
            len(parts) not in (3, 4)
            or parts[1] not in ACCESS_LEVELS
            or not is_credential(parts[2])
            or not all(_AREA.fullmatch(a) for a in areas)
        ):
            raise ConfigError(
                "WATCHKEEPER_CONSOLE_USERS: each entry is user:viewer|inspector|admin:credential "
                "(from `watchkeeper users add`), optionally :AREA|AREA to limit what they see"
            )
        users.append((parts[0], parts[1], parts[2], frozenset(a.casefold() for a in areas)))
    return users


def from_settings(
    webhook_url: str | None,
    secret: str | None = None,
    console_users: str = "",
    session_secret: str | None = None,
    fallback_url: str | None = None,
) -> NotifyConfig:
    """No notification file: the console, and one generic receiver if a URL is set.

    ``console_users`` is ``user:access:credential`` entries, comma-separated
    (``WATCHKEEPER_CONSOLE_USERS``, credentials from ``watchkeeper users add``), for a
    deployment without a notification file; they need ``WATCHKEEPER_SESSION_SECRET``."""
    secrets = (secret,) if secret else ()
    receivers = {"webhook": Receiver("webhook", webhook_url, "generic", secrets)} if webhook_url else {}
    if fallback_url:
        receivers["fallback"] = Receiver("fallback", fallback_url, "generic", secrets)
    users = parse_console_users(console_users)
    session_key = None
    if users or session_secret:
        try:
            session_key = check_key(session_secret, "WATCHKEEPER_SESSION_SECRET")
        except WeakKeyError as exc:
            raise ConfigError(str(exc)) from None
    return NotifyConfig(
        receivers=receivers,
        roles={"on_call": tuple(name for name in receivers if name != "fallback")},
        fallback="fallback" if fallback_url else None,
        policies={"default": EscalationPolicy("default", (Tier("on_call", dt.timedelta(0)),))},
        routes=(Route("default"),),
        user_credentials={user: credential for user, _, credential, _ in users},
        user_access={user: access for user, access, _, _ in users},
        user_areas={user: areas for user, _, _, areas in users if areas},
        session_secret=session_key,
    )


def describe(config: NotifyConfig) -> dict[str, Any]:
    """A summary for logs: names only, never URLs' secrets or tokens."""
    return {"receivers": sorted(config.receivers), "policies": sorted(config.policies), "source": config.source}
