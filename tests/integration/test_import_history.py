"""Loading history pages no one: 100,000 generated historical events imported into a running
worker raise the alerts replay says they should, every one historical, and no webhook is sent."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agents.policy import load_policy
from agents.replay import replay
from streams.validation import Event, decode_event
from tests.conftest import REPO, Deployment, Receiver

pytestmark = pytest.mark.broker
CASES = 50_000


def history(now: dt.datetime) -> list[dict[str, Any]]:
    """Two records per incident, 40 days ago; one incident in a hundred had children present
    and was closed without a THRIVE assessment or a PPN."""
    start, out = now - dt.timedelta(days=40), []
    for i in range(CASES):
        at, children = start + dt.timedelta(seconds=20 * i), 1 if i % 100 == 0 else 0
        for event_type, data, when in (
            ("incident.created", {"incident_type": "child_concern" if children else "other", "grade": "priority",
                                  "children_present": children, "area": "EAST"}, at),
            ("incident.closed", {}, at + dt.timedelta(hours=2)),
        ):  # fmt: skip
            out.append({"specversion": "1.0", "id": f"h{i}-{event_type}", "source": "history-export",
                        "type": event_type, "subject": f"INC-HIST-{i:05d}", "time": when.isoformat(),
                        "recordedtime": when.isoformat(), "data": data})  # fmt: skip
    return out


def test_an_import_of_100000_historical_events_raises_the_expected_alerts_and_pages_no_one(
    deployment: Callable[..., Deployment], receiver: Receiver, tmp_path: Path
) -> None:
    d = deployment(WATCHKEEPER_WEBHOOK_URL=receiver.url)
    d.start_worker()
    now = dt.datetime.now(dt.UTC)
    events = history(now)
    source = tmp_path / "history.jsonl"
    source.write_text("".join(json.dumps(e) + "\n" for e in events))
    decoded = [e for e in (decode_event(json.dumps(e).encode(), now=now) for e in events) if isinstance(e, Event)]
    expected = {a.alert_id: a.stage_name for a in replay(decoded, load_policy(), until=now)}
    assert len(expected) == 3 * CASES // 100  # THRIVE warning and breach, and the closure without a PPN

    env = {**os.environ, **d.env}
    result = subprocess.run(
        [sys.executable, "-m", "watchkeeper", "import", str(source), "--rate", "1000000"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"{2 * CASES} valid event(s), 0 invalid, {CASES} case(s)" in result.stdout
    assert f"imported {2 * CASES} event(s)" in result.stdout

    alerts = d.read("alerts", until=lambda r: {a["alert_id"] for a in r} >= set(expected), timeout=600, settle=5)
    live = {a["alert_id"]: a for a in alerts if a["status"] == "firing"}
    assert set(live) == set(expected), "the alerts replay gives, no more and no fewer"
    assert all(a["hindsight"] for a in live.values() if a["target"] != "immediate"), "clock stages say it"
    transitions = d.read("alert-transitions", until=lambda r: len(r) >= len(expected), timeout=120, settle=2)
    raised = [t for t in transitions if t["state"] == "raised"]
    assert {t["alert_id"] for t in raised} == set(expected) and all("historical" in t["reason"] for t in raised)
    time.sleep(3)
    paged = [body for _, body in receiver.received if "alert_id" in json.loads(body).get("data", {})]
    assert paged == [], f"{len(paged)} historical alerts were delivered"
