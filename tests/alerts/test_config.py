from __future__ import annotations

from pathlib import Path

import pytest

from alerts.config import load
from tests.conftest import REPO

ENV = {
    "WK_ACK_LINK_SECRET": "3f1c9a7e5b2d8c4f6a0e1b3d5c7f9a2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a",
    "WK_SESSION_SECRET": "9b7d5f3a1c8e6b4d2f0a9c7e5b3d1f8a6c4e2b0d9f7a5c3e1b8d6f4a2c0e9b7d",
    "WK_PAGERDUTY_INSPECTORS": "k",
    "WK_WEBHOOK_SECRET_2026": "whsec_YWFh",
    "WK_WEBHOOK_SECRET_2027": "whsec_YmJi",
}


def test_the_example_notification_file_loads_and_routes_as_documented() -> None:
    config = load(REPO / "deploy" / "notify" / "example.yaml", environ=ENV)
    assert config.route("custody.detention.limit", "critical", "SUITE-A").name == "custody-breach"
    assert config.route("missing.deployment", "high", None).name == "protection-and-missing"
    assert config.route("custody.healthcare.seen", "medium", None).name == "warnings"
    assert config.receivers["control-room-webhook"].secrets == ("whsec_YWFh", "whsec_YmJi")
    assert [t.role for t in config.policies["custody-breach"].tiers][-1] == "force_on_call"


def test_a_route_s_horizon_is_validated_with_the_field_named(tmp_path: Path) -> None:
    import pytest

    from alerts.config import ConfigError
    from tests.alerts.helpers import LADDER

    path = tmp_path / "notify.yaml"
    path.write_text(LADDER.replace("{policy: quiet}", "{policy: quiet, horizon: soon}"))
    with pytest.raises(ConfigError, match=r"routes\[1\]\.horizon"):
        load(path, environ={})


def test_a_user_may_be_limited_to_areas_in_the_file_or_the_settings(tmp_path: Path) -> None:
    from alerts.config import ConfigError, from_settings, parse_console_users
    from alerts.tokens import credential_for, generate_token
    from tests.alerts.helpers import SESSION_KEY

    credential = credential_for(generate_token())
    path = tmp_path / "notify.yaml"
    path.write_text(
        "receivers: {}\nroles: {r: []}\npolicies: {p: {tiers: [{role: r}]}}\nroutes: [{policy: p}]\n"
        f'session_secret: "{SESSION_KEY}"\n'
        f'users: [{{user: insp-n, token_hash: "{credential}", areas: [SUITE-North]}}, '
        f'{{user: insp-all, token_hash: "{credential}"}}]\n'
    )
    config = load(path, environ={})
    assert config.user_areas == {"insp-n": frozenset({"suite-north"})}
    settings = from_settings(None, console_users=f"a:viewer:{credential}:SUITE-A|SUITE-B", session_secret=SESSION_KEY)
    assert settings.user_areas == {"a": frozenset({"suite-a", "suite-b"})}
    with pytest.raises(ConfigError, match="AREA"):
        parse_console_users(f"a:viewer:{credential}:SUITE A")
