from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from alerts.config import ConfigError
from alerts.retry import CircuitBreaker, RetryPolicy, classify, retry_after
from tests.alerts.helpers import LADDER, LINK_KEY, ladder_config

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (400, "refused"),
        (404, "refused"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
        (None, "retry"),
    ],
)
def test_4xx_is_not_retried_except_408_and_429(status: int | None, verdict: str) -> None:
    assert classify(status) == verdict


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    assert retry_after("7", NOW) == 7.0
    assert retry_after("Sun, 22 Nov 2026 12:00:30 GMT", NOW) == 30.0
    assert retry_after("soon", NOW) is None and retry_after(None, NOW) is None


def test_backoff_is_exponential_with_full_jitter_capped_and_never_shorter_than_retry_after() -> None:
    policy = RetryPolicy(base=1.0, cap=10.0)
    assert [policy.delay(n, None, lambda: 1.0) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    assert policy.delay(3, None, lambda: 0.5) == 2.0
    assert policy.delay(1, 30.0, lambda: 1.0) == 30.0


def test_the_breaker_opens_after_repeated_failures_and_closes_on_success() -> None:
    breaker = CircuitBreaker(threshold=3, cooldown=10.0)
    for t in (0.0, 1.0):
        breaker.record(False, t)
    assert breaker.wait(1.0) == 0
    breaker.record(False, 2.0)
    assert breaker.wait(2.0) == 10.0 and breaker.wait(12.0) == 0
    breaker.record(True, 12.0)
    assert breaker.failures == 0 and breaker.wait(12.0) == 0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("- {policy: quiet}", "- {policy: quiet, match: {severity: [low]}}"), "field 'routes': the last route"),
        (("role: duty_inspector, after: 15m", "role: nobody, after: 15m"), "tiers[1].role': no role named 'nobody'"),
        (("after: 45m", "after: soon"), "field 'policies.custody.tiers[2].after'"),
        (("fallback: control-room", "fallback: nowhere"), "no receiver named 'nowhere'"),
        (('url: "http://127.0.0.1:9/i"', 'url: "ftp://x"'), "field 'receivers.inspector-hook.url': not an http"),
        (("repeat: 1", "repaet: 1"), "repaet"),
    ],
)
def test_config_errors_name_the_file_and_the_field(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    assert change[0] in LADDER
    with pytest.raises(ConfigError) as info:
        ladder_config(tmp_path, LADDER.replace(*change))
    assert "notify.yaml" in str(info.value) and expected in str(info.value)


def test_secrets_come_from_the_environment(tmp_path: Path) -> None:
    from alerts.config import load

    path = tmp_path / "n.yaml"
    path.write_text(LADDER.replace(f'ack_link_secret: "{LINK_KEY}"', "ack_link_secret: env:WK_LINK"))
    with pytest.raises(ConfigError, match="WK_LINK is not set"):
        load(path, environ={})
    assert load(path, environ={"WK_LINK": LINK_KEY}).ack_link_secret == LINK_KEY.encode()
