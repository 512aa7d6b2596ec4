from __future__ import annotations

from alerts.config import load
from tests.conftest import REPO

ENV = {
    "WK_ACK_LINK_SECRET": "s",
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
