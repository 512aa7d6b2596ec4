"""Shared makers for the alert-layer tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec

from agents.alert import Alert
from agents.vocabulary import AlertStatus, Severity, StageKind
from alerts.config import NotifyConfig, load
from tests.conftest import T0

SECRET_OLD = "whsec_" + "b2xkLXNlY3JldC1vbGQtc2VjcmV0LWtleQ=="
SECRET_NEW = "whsec_" + "bmV3LXNlY3JldC1uZXctc2VjcmV0LWtleQ=="
LINK_KEY = "5e0c2a9f71d84b36a8c1e7f20b94d6c35a18e7f0c2b94d61a3e5f7092b4c6d8e"
SESSION_KEY = "c7a94e1f0b3d62859e7c1a0f4d2b86e39a5c7e1f3b0d2946c8e0a2f4b6d8193e"
"""Test keys: random-looking and long enough; each test that needs one names it."""


def alert(
    status: AlertStatus = "firing",
    revision: int = 1,
    stage: StageKind = "breach",
    severity: Severity = "high",
    **kw: object,
) -> Alert:
    base = Alert(
        alert_id="a1",
        revision=revision,
        status=status,
        stage=stage,
        stage_name=stage,
        severity=severity,
        rule_id="custody.appropriate_adult.arrival",
        rule_version=1,
        rule_title="Appropriate adult requested but not arrived",
        legal_basis="local standard",
        local_standard=True,
        grade="local_standard",
        domain="custody",
        case="CR-1",
        area="SUITE-A",
        clock_started_at=T0,
        deadline=T0 + dt.timedelta(hours=2),
        stage_at=T0 + dt.timedelta(hours=2),
        raised_at=T0 + dt.timedelta(hours=2),
        overdue_seconds=0.0,
        target="2h",
        reason="passed",
        explanation="why",
        action="chase the AA",
    )
    return msgspec.structs.replace(base, **kw) if kw else base


LADDER = f"""
receivers:
  sergeant-hook: {{url: "http://127.0.0.1:9/s", secrets: ["{SECRET_OLD}", "{SECRET_NEW}"]}}
  inspector-hook: {{url: "http://127.0.0.1:9/i"}}
  superintendent-hook: {{url: "http://127.0.0.1:9/u"}}
  control-room: {{url: "http://127.0.0.1:9/c"}}
roles:
  custody_sergeant: [sergeant-hook]
  duty_inspector: [inspector-hook]
  duty_superintendent: [superintendent-hook]
policies:
  custody:
    tiers:
      - {{role: custody_sergeant, after: 0m}}
      - {{role: duty_inspector, after: 15m}}
      - {{role: duty_superintendent, after: 45m}}
    repeat: 1
    repeat_after: 30m
    ack_timeout: 20m
  quiet:
    tiers: [{{role: duty_inspector}}]
routes:
  - {{match: {{rule: ["custody.*"], severity: [high, critical]}}, policy: custody}}
  - {{policy: quiet}}
fallback: control-room
ack_link_secret: "{LINK_KEY}"
"""


def ladder_config(tmp_path: Path, text: str = LADDER) -> NotifyConfig:
    path = tmp_path / "notify.yaml"
    path.write_text(text)
    return load(path, environ={})
