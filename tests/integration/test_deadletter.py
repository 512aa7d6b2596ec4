"""Every input has exactly one outcome, on a live worker against the real broker.

Each kind of bad input, the ones that once crashed the agent among them, goes to the
dead-letter topic with its reason and is counted; each is followed by a good case whose
breach must still fire. Dead letters and the worker's log never echo the input."""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from streams.validation import DEAD_LETTER_REASONS
from tests.conftest import REPO, Deployment, cloudevent, detention, free_port

pytestmark = pytest.mark.broker
UTC = dt.UTC
AA_4S = REPO / "tests" / "integration" / "aa-4s.yaml"
LEAK = "Zelda Quimby"


def metric(deployment: Deployment, name: str, **labels: str) -> float:
    port = deployment.env["WATCHKEEPER_WEB_PORT"]
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if m and ",".join(sorted(m.group(1).split(","))) == wanted:
            return float(m.group(2))
    return 0.0


def bad_inputs(now: dt.datetime) -> list[tuple[str, str, bytes, bytes | None]]:
    """(reason, topic kind, value, key) for every kind of input a domain agent must refuse."""

    def fresh(subject: str, event_type: str, data: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        return cloudevent(subject, event_type, data, at=now, **kw)

    def raw(event: dict[str, Any]) -> bytes:
        return json.dumps(event).encode()

    request = fresh("CR-BAD-U", "custody.appropriate_adult.requested", source="ZZSOURCE")
    custody = "custody"
    bad: list[tuple[str, str, bytes, bytes | None]] = [
        ("malformed_json", custody, b'{"specversion": "1.0", "id": ', b"CR-BAD-1"),
        ("malformed_json", custody, raw(request).replace(b'"ZZSOURCE"', b'"\xff\xfeZelda"'), b"CR-BAD-U"),
        ("too_deeply_nested", custody, b'{"data":' + b"[" * 20_000 + b"]" * 20_000 + b"}", b"CR-BAD-D"),
        ("payload_too_large", custody, b'{"data":' + b"[" * 200_000 + b"]" * 200_000 + b"}", b"CR-BAD-L"),
    ]
    violation = fresh("CR-BAD-2", "custody.detention.authorised", {"relevant_time": now.isoformat(), "age_years": LEAK})
    bad.append(("schema_violation", custody, raw(violation), b"CR-BAD-2"))
    bad.append(("unknown_event_type", custody, raw(fresh("CR-BAD-3", "custody.Zelda-Quimby")), b"CR-BAD-3"))
    no_subject = fresh("x", "custody.appropriate_adult.requested")
    del no_subject["subject"]
    bad.append(("missing_subject", custody, raw(no_subject), None))
    bad.append(("missing_subject", custody, raw(fresh("", "custody.appropriate_adult.requested")), b""))
    future = cloudevent("CR-BAD-6", "custody.appropriate_adult.requested", at=now + dt.timedelta(days=2))
    bad.append(("time_in_future", custody, raw(future), b"CR-BAD-6"))
    bad.append(("wrong_topic", custody, raw(fresh("PP-BAD-7", "protection.parents.informed")), b"PP-BAD-7"))
    mis_keyed = fresh("CR-BAD-8", "custody.appropriate_adult.requested")
    bad.append(("key_mismatch", custody, raw(mis_keyed), b"KEYLEAK Zelda Quimby"))
    year_one = fresh("CR-BAD-9", "custody.appropriate_adult.requested")
    year_one["time"] = "0001-01-01T00:00:00+01:00"
    bad.append(("time_out_of_range", custody, raw(year_one), b"CR-BAD-9"))
    created = fresh(
        "INC-BAD-10", "incident.created", {"incident_type": "other", "grade": "priority", "children_present": 1}
    )
    created["time"] = "0001-01-01T00:00:00Z"
    bad.append(("time_out_of_range", "incidents", raw(created), b"INC-BAD-10"))
    in_1900 = fresh("CR-BAD-11", "custody.appropriate_adult.requested")
    in_1900["time"] = in_1900["recordedtime"] = "1900-11-21T10:00:00+00:00"
    bad.append(("time_out_of_range", custody, raw(in_1900), b"CR-BAD-11"))
    backwards = fresh("CR-BAD-12", "custody.appropriate_adult.requested")
    backwards["recordedtime"] = (now - dt.timedelta(hours=3)).isoformat()
    bad.append(("recorded_before_event", custody, raw(backwards), b"CR-BAD-12"))
    far = detention("CR-BAD-13", at=now)
    far["data"]["relevant_time"] = "9999-12-31T23:59:59+00:00"
    bad.append(("data_time_out_of_range", custody, raw(far), b"CR-BAD-13"))
    xml = fresh("CR-BAD-14", "custody.appropriate_adult.requested")
    xml["datacontenttype"] = "application/xml"
    bad.append(("unsupported_content_type", custody, raw(xml), b"CR-BAD-14"))
    return bad


def test_every_kind_of_bad_input_is_dead_lettered_with_its_reason_and_the_next_good_case_still_fires(
    deployment: Callable[..., Deployment],
) -> None:
    d = deployment(WATCHKEEPER_WEB_PORT=str(free_port()), WATCHKEEPER_POLICY_OVERRIDES=str(AA_4S))
    d.start_worker()
    now = dt.datetime.now(UTC)
    bad = bad_inputs(now)

    # A reused id with different content: the AA's arrival sent under the request's id.
    d.send(detention("CR-CONFLICT", at=now))
    d.send(cloudevent("CR-CONFLICT", "custody.appropriate_adult.requested", at=now, event_id="reused-1"))
    d.send(cloudevent("CR-CONFLICT", "custody.appropriate_adult.arrived", at=now, event_id="reused-1"))
    # Garbage on the dispatcher's and the outbox's topics: they dead-letter it too.
    d.producer.send(f"{d.prefix}.alert-commands", key=b"x", value=b"\xff not a command").get(timeout=30)
    d.producer.send(f"{d.prefix}.outbox", key=b"x", value=b'{"webhook_id": 7}').get(timeout=30)

    good_cases = []
    for i, (_, kind, value, key) in enumerate(bad):
        d.send(value, key=key, domain=kind)
        case = f"CR-GOOD-{i}"
        good_cases.append(case)
        d.send(detention(case, at=now))
        request = cloudevent(case, "custody.appropriate_adult.requested", at=now, event_id=f"req-{i}")
        d.send(request)
        d.send(request)  # the same event again: a true duplicate, dropped and counted

    expected = sorted([r for r, _, _, _ in bad] + ["id_conflict", "internal_error", "internal_error"])
    letters = d.read("deadletter", until=lambda r: len(r) >= len(expected), timeout=90, settle=1)
    assert sorted(r["reason"] for r in letters) == expected
    assert set(DEAD_LETTER_REASONS) == set(expected), "every reason is exercised"
    for record in letters:
        assert isinstance(record["source"]["offset"], int) and len(record["payload_sha256"]) == 64
        text = json.dumps(record)
        for leak in ("Zelda", "KEYLEAK", "ZZSOURCE", "reused-1"):
            assert leak not in text, (leak, record)
    by_reason = {r["reason"]: r for r in letters}
    assert by_reason["internal_error"]["detail"].split()[0] in ("DecodeError", "ValidationError", "ValueError")
    assert by_reason["key_mismatch"]["key_bytes"] == len(b"KEYLEAK Zelda Quimby")

    alerts = d.read(
        "alerts",
        until=lambda r: {a["case"] for a in r if a["stage"] == "breach"} >= set(good_cases) | {"CR-CONFLICT"},
        timeout=90,
        settle=2,
    )
    breached = sorted({a["case"] for a in alerts if a["stage"] == "breach"})
    assert breached == sorted([*good_cases, "CR-CONFLICT"]), "no refused input is a case, and no good case was lost"

    for reason in {r for r, kind, _, _ in bad if kind == "custody"}:
        count = sum(1 for r, kind, _, _ in bad if r == reason and kind == "custody")
        assert metric(d, "watchkeeper_dead_letters_total", domain="custody", reason=reason) == count
    assert metric(d, "watchkeeper_dead_letters_total", domain="custody", reason="id_conflict") == 1
    assert metric(d, "watchkeeper_dead_letters_total", domain="dispatcher", reason="internal_error") == 1
    assert metric(d, "watchkeeper_dead_letters_total", domain="outbox", reason="internal_error") == 1
    assert metric(d, "watchkeeper_events_total", domain="custody", outcome="duplicate") == len(bad)
    worker = d.workers[0]
    assert worker.proc.poll() is None, "the worker must still be running"
    log = worker.output()
    assert "Zelda" not in log and "KEYLEAK" not in log and "Traceback" not in log
