"""Bad input never stops a worker: each kind goes to the dead-letter topic with its reason,
is counted, and the good events around it are still processed. Real broker, real worker."""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from streams.validation import REJECTION_REASONS
from tests.conftest import REPO, Deployment, cloudevent, detention, free_port

pytestmark = pytest.mark.broker
UTC = dt.UTC
AA_4S = REPO / "tests" / "integration" / "aa-4s.yaml"


def metric(deployment: Deployment, name: str, **labels: str) -> float:
    port = deployment.env["WATCHKEEPER_WEB_PORT"]
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if m and ",".join(sorted(m.group(1).split(","))) == wanted:
            return float(m.group(2))
    return 0.0


def test_every_kind_of_bad_input_is_dead_lettered_with_its_reason_and_nothing_else_is_lost(
    deployment: Callable[..., Deployment],
) -> None:
    d = deployment(WATCHKEEPER_WEB_PORT=str(free_port()), WATCHKEEPER_POLICY_OVERRIDES=str(AA_4S))
    d.start_worker()
    now = dt.datetime.now(UTC)

    def fresh(subject: str, event_type: str, data: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        return cloudevent(subject, event_type, data, at=now, **kw)

    bad: list[tuple[str, bytes, bytes | None]] = []
    bad.append(("malformed_json", b'{"specversion": "1.0", "id": ', b"CR-BAD-1"))
    violation = fresh(
        "CR-BAD-2", "custody.detention.authorised", {"relevant_time": now.isoformat(), "age_years": "Jane"}
    )
    bad.append(("schema_violation", json.dumps(violation).encode(), b"CR-BAD-2"))
    bad.append(("unknown_event_type", json.dumps(fresh("CR-BAD-3", "custody.beamed_up")).encode(), b"CR-BAD-3"))
    no_subject = fresh("x", "custody.appropriate_adult.requested")
    del no_subject["subject"]
    bad.append(("missing_subject", json.dumps(no_subject).encode(), None))
    empty_subject = fresh("", "custody.appropriate_adult.requested")
    bad.append(("missing_subject", json.dumps(empty_subject).encode(), b""))
    future = cloudevent("CR-BAD-6", "custody.appropriate_adult.requested", at=now + dt.timedelta(days=2))
    bad.append(("time_in_future", json.dumps(future).encode(), b"CR-BAD-6"))
    wrong_topic = fresh("PP-BAD-7", "protection.parents.informed")
    bad.append(("wrong_topic", json.dumps(wrong_topic).encode(), b"PP-BAD-7"))
    mis_keyed = fresh("CR-BAD-8", "custody.appropriate_adult.requested")
    bad.append(("key_mismatch", json.dumps(mis_keyed).encode(), b"some-other-key"))

    assert {reason for reason, _, _ in bad} == set(REJECTION_REASONS)

    # A child's case, interleaved with the bad input: its breach must still fire.
    d.send(detention("CR-GOOD", at=now))
    for _, value, key in bad:
        d.send(value, key=key)
    request = fresh("CR-GOOD", "custody.appropriate_adult.requested", event_id="req-1")
    d.send(request)
    d.send(request)  # the same event id again: dropped idempotently

    letters = d.read("deadletter", until=lambda r: len(r) >= len(bad), timeout=60)
    assert sorted(r["reason"] for r in letters) == sorted(reason for reason, _, _ in bad)
    for record in letters:
        assert record["source"]["topic"] == d.topic("custody")
        assert isinstance(record["source"]["offset"], int) and len(record["payload_sha256"]) == 64
        assert "Jane" not in json.dumps(record)

    alerts = d.read("alerts", until=lambda r: any(a["stage"] == "breach" for a in r), timeout=60, settle=2)
    assert [(a["case"], a["stage"]) for a in alerts] == [("CR-GOOD", "breach")]

    for reason in {reason for reason, _, _ in bad}:
        expected = sum(1 for r, _, _ in bad if r == reason)
        assert metric(d, "watchkeeper_dead_letters_total", domain="custody", reason=reason) == expected
    assert metric(d, "watchkeeper_events_total", domain="custody", outcome="duplicate") == 1
    assert d.workers[0].proc.poll() is None, "the worker must still be running"
