"""POST /events on a real worker and the real broker: the three content modes raise the same
alerts as records on the topics do, every refusal carries its dead-letter reason, and under
pressure a client that honours 429 and Retry-After loses nothing."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from alerts.tokens import credential_for, generate_token
from tests.alerts.helpers import SESSION_KEY
from tests.conftest import REPO, Deployment, cloudevent, detention, free_port

pytestmark = pytest.mark.broker
INGEST = generate_token()
AA_4S = str(REPO / "tests" / "integration" / "aa-4s.yaml")


def post(url: str, body: bytes, content_type: str, **headers: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    request = urllib.request.Request(
        url, data=body, method="POST",
        headers={"Authorization": f"Bearer {INGEST}", "Content-Type": content_type, **headers},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def worker_with_ingest(deployment: Callable[..., Deployment], **env: str) -> tuple[Deployment, str]:
    port = free_port()
    d = deployment(
        WATCHKEEPER_WEB_PORT=str(port),
        WATCHKEEPER_CONSOLE_USERS=f"custody-system:ingest:{credential_for(INGEST)}",
        WATCHKEEPER_SESSION_SECRET=SESSION_KEY,
        WATCHKEEPER_POLICY_OVERRIDES=AA_4S,
        **env,
    )
    d.start_worker()
    return d, f"http://127.0.0.1:{port}/events"


def bad_events(now: dt.datetime) -> list[tuple[str, dict[str, Any]]]:
    """(the dead-letter reason, an event refused for it)."""

    def fresh(case: str, **change: Any) -> dict[str, Any]:
        return {**cloudevent(case, "custody.appropriate_adult.requested", at=now), **change}

    deep: dict[str, Any] = {}
    for _ in range(40):
        deep = {"x": deep}
    far = detention("CR-H-13", at=now)
    far["data"]["relevant_time"] = "9999-12-31T23:59:59+00:00"
    return [
        ("schema_violation", {"specversion": "1.0"}),
        ("unknown_event_type", fresh("CR-H-2", type="custody.teleported")),
        ("missing_subject", fresh("CR-H-1", subject="")),
        ("schema_violation", fresh("CR-H-3", subject="Jane Example")),
        ("time_in_future", fresh("CR-H-4", time=(now + dt.timedelta(days=2)).isoformat())),
        ("time_out_of_range", fresh("CR-H-5", time="1900-01-01T00:00:00Z", recordedtime="1900-01-01T00:00:00Z")),
        ("recorded_before_event", fresh("CR-H-6", recordedtime=(now - dt.timedelta(hours=3)).isoformat())),
        ("data_time_out_of_range", far),
        ("unsupported_content_type", fresh("CR-H-7", datacontenttype="application/xml")),
        ("too_deeply_nested", fresh("CR-H-8", data=deep)),
        ("payload_too_large", fresh("CR-H-9", data={"padding": "x" * 70_000})),
    ]


def test_three_content_modes_raise_the_alerts_and_every_refusal_has_its_reason(
    deployment: Callable[..., Deployment],
) -> None:
    d, url = worker_with_ingest(deployment)
    now = dt.datetime.now(dt.UTC)
    structured = "application/cloudevents+json; charset=utf-8"
    for event in (
        detention("CR-H-STRUCT", age=14, at=now),
        cloudevent("CR-H-STRUCT", "custody.appropriate_adult.requested", at=now),
    ):
        status, body, _ = post(url, json.dumps(event).encode(), structured)
        assert (status, body["results"][0]["outcome"]) == (200, "accepted")

    bad = bad_events(now)
    batch = [
        detention("CR-H-BATCH", age=14, at=now),
        cloudevent("CR-H-BATCH", "custody.appropriate_adult.requested", at=now),
    ]
    status, body, _ = post(url, json.dumps(batch + [e for _, e in bad]).encode(), "application/cloudevents-batch+json")
    assert status == 200
    outcomes = [(r["outcome"], r.get("reason")) for r in body["results"]]
    assert outcomes == [("accepted", None)] * 2 + [("rejected", reason) for reason, _ in bad]
    assert "Jane" not in json.dumps(body), "a refusal does not echo the input"

    for number, (event_type, data) in enumerate(
        [("custody.detention.authorised", detention("CR-H-BINARY", age=14, at=now)["data"]),
         ("custody.appropriate_adult.requested", {})]
    ):  # fmt: skip
        status, body, _ = post(
            url, json.dumps(data).encode(), "application/json",
            **{"ce-specversion": "1.0", "ce-id": f"bin-{number}", "ce-source": "custody%2Dsystem",
               "ce-type": event_type, "ce-subject": "CR-H-BINARY", "ce-time": now.isoformat(),
               "ce-recordedtime": now.isoformat()},
        )  # fmt: skip
        assert (status, body["results"][0]["outcome"]) == (200, "accepted")

    status, body, _ = post(url, b"[{", "application/cloudevents-batch+json")
    assert (status, body["error"]) == (400, "malformed_json")
    status, body, _ = post(url, b"{}", "text/plain")
    assert (status, body["error"]) == (415, "unsupported_content_type")

    cases = {"CR-H-STRUCT", "CR-H-BATCH", "CR-H-BINARY"}

    def breached(records: list[dict[str, Any]]) -> set[str]:
        return {
            a["case"] for a in records if a["rule_id"] == "custody.appropriate_adult.arrival" and a["stage"] == "breach"
        }

    alerts = d.read("alerts", until=lambda r: breached(r) >= cases, timeout=60)
    assert breached(alerts) == cases
    on_topic = d.read("custody", until=lambda r: len(r) >= 6, timeout=30, settle=1)
    assert sorted(r["subject"] for r in on_topic) == sorted([*cases, *cases]), "only accepted events are on the topic"


def test_under_pressure_a_client_honouring_429_loses_nothing(deployment: Callable[..., Deployment]) -> None:
    d, url = worker_with_ingest(deployment, WATCHKEEPER_INGEST_IN_FLIGHT="20")
    now = dt.datetime.now(dt.UTC)
    batches = [[detention(f"CR-P-{b:02d}-{i}", at=now) for i in range(10)] for b in range(30)]
    refusals: list[int] = []

    def send(batch: list[dict[str, Any]]) -> list[str]:
        while True:
            status, body, headers = post(url, json.dumps(batch).encode(), "application/cloudevents-batch+json")
            if status != 429:
                assert status == 200, body
                return [r["id"] for r in body["results"] if r["outcome"] == "accepted"]
            refusals.append(status)
            time.sleep(float(headers.get("Retry-After", "1")) / 10)

    with ThreadPoolExecutor(max_workers=30) as pool:
        accepted = [event_id for ids in pool.map(send, batches) for event_id in ids]
    assert refusals, "the bound was reached: some requests were refused with 429"
    assert sorted(accepted) == sorted(e["id"] for b in batches for e in b)
    on_topic = d.read("custody", until=lambda r: len(r) >= len(accepted), timeout=60, settle=1)
    assert sorted(r["id"] for r in on_topic) == sorted(accepted), "every accepted event is on the broker, once"


def test_the_integration_guide_s_python_and_curl_examples_work_against_a_real_worker(
    deployment: Callable[..., Deployment],
) -> None:
    import os
    import re
    import shutil
    import subprocess
    import sys

    d, url = worker_with_ingest(deployment)
    env = {**os.environ, "WATCHKEEPER_URL": url.removesuffix("/events"), "WATCHKEEPER_INGEST_TOKEN": INGEST}
    example = subprocess.run(
        [sys.executable, str(REPO / "docs" / "examples" / "post_event.py")], env=env, capture_output=True, text=True
    )
    assert example.returncode == 0 and example.stdout.split() == ["accepted"], example.stdout + example.stderr
    sys.path.insert(0, str(REPO / "docs" / "examples"))
    try:
        import post_event  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    record = post_event.detention_authorised("CR-EXAMPLE-2", "SUITE-B", 16)
    base = url.removesuffix("/events")
    assert [r["outcome"] for r in post_event.post(base, INGEST, [record])] == ["accepted"]
    assert [r["outcome"] for r in post_event.post(base, INGEST, [record])] == ["duplicate"], "a retry is harmless"
    expected = 2
    if shutil.which("curl"):
        guide = (REPO / "docs" / "integration.md").read_text()
        command = re.search(r"```sh\n(curl .*?)\n```", guide, flags=re.DOTALL)
        assert command is not None
        result = subprocess.run(["sh", "-c", command.group(1)], env=env, capture_output=True, text=True)
        assert json.loads(result.stdout)["results"][0]["outcome"] == "accepted", result.stdout + result.stderr
        expected = 3
    on_topic = d.read("custody", until=lambda r: len(r) >= expected, timeout=30, settle=1)
    assert sorted(r["subject"] for r in on_topic) == sorted(["CR-EXAMPLE-1", "CR-EXAMPLE-2", "CR-EXAMPLE-1"][:expected])
