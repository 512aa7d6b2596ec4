"""``watchkeeper audit export`` on the real broker: a known history written to the record topics
is exported exactly, as JSON Lines and as CSV, for the period and the area asked."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from alerts.export import COLUMNS
from tests.alerts.history import expected_north, history
from tests.conftest import REPO

pytestmark = pytest.mark.broker


def test_an_export_reproduces_a_known_history_exactly(bootstrap: str, tmp_path: Path) -> None:
    from kafka import KafkaProducer

    from worker.settings import Settings
    from worker.topics import ensure_topics

    prefix = f"t{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "WATCHKEEPER_BOOTSTRAP_SERVERS": bootstrap, "WATCHKEEPER_TOPIC_PREFIX": prefix}
    settings = Settings.from_env(env)
    ensure_topics(settings)
    topic = {"alerts": "alerts", "audit": "alert-transitions", "commands": "alert-commands", "deliveries": "deliveries"}
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for source, key, value in history():
        producer.send(f"{prefix}.{topic[source]}", key=key, value=value).get(timeout=30)
    producer.close()

    def export(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "watchkeeper", "audit", "export", *args]
        return subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)

    jsonl = export("--from", "2026-11-21", "--to", "2026-11-21", "--area", "SUITE-NORTH")
    assert jsonl.returncode == 0, jsonl.stderr
    assert [json.loads(line) for line in jsonl.stdout.splitlines()] == expected_north()
    assert "exported 12 row(s)" in jsonl.stderr

    out = tmp_path / "north.csv"
    as_csv = export(
        "--from", "2026-11-21", "--to", "2026-11-21", "--area", "suite-north", "--format", "csv", "--out", str(out)
    )
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 12
    assert [r["kind"] for r in rows] == [e["kind"] for e in expected_north()]

    everything = export("--from", "2026-11-20", "--to", "2026-11-21")
    kinds = [json.loads(line)["kind"] for line in everything.stdout.splitlines()]
    assert kinds.count("alert") == 4, "both days and both suites: the day before's alert and the south's too"
    assert export("--from", "2026-11-22", "--to", "2026-11-21").returncode == 2
