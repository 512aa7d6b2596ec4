"""The command line against the real broker: topics, send, and the README's demo command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from streams.contract import DOMAINS
from tests.conftest import REPO, Deployment, cloudevent, detention
from worker.topics import TABLES

pytestmark = pytest.mark.broker


def run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watchkeeper", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def config(admin: Any, topic: str, name: str) -> str:
    from kafka.admin import ConfigResource, ConfigResourceType

    described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="all")
    return str(described["topic"][topic][name]["value"])


def retention(admin: Any, topic: str) -> str:
    return config(admin, topic, "retention.ms")


def test_topics_creates_every_topic_with_explicit_settings_and_is_idempotent(bootstrap: str) -> None:
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

    prefix = f"t{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "WATCHKEEPER_BOOTSTRAP_SERVERS": bootstrap,
        "WATCHKEEPER_TOPIC_PREFIX": prefix,
        "WATCHKEEPER_PARTITIONS": "3",
        "WATCHKEEPER_RETENTION_DAYS": "2",
    }
    every = 2 * len(DOMAINS) + 9 + len(TABLES)  # events and ticks per domain; alerts, ...; the tables' changelogs
    first = run(["topics"], env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("created") == every
    again = run(["topics"], env)
    assert again.returncode == 0 and again.stdout.count("present") == every

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        names = [f"{prefix}.{d}.{k}" for d in DOMAINS for k in ("events", "ticks")]
        names += [f"{prefix}.alerts", f"{prefix}.deadletter"]
        described = {t.get("name") or t.get("topic"): t for t in admin.describe_topics(names)}
        assert all(len(described[n]["partitions"]) == 3 for n in names)
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, f"{prefix}.custody.events")])
        text = str(configs)
        assert str(2 * 24 * 3600 * 1000) in text  # retention.ms from WATCHKEEPER_RETENTION_DAYS
        access = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, f"{prefix}.console-access")])
        assert "compact" in str(access)  # sessions and revocations: the latest of each is kept
        silences = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, f"{prefix}.silences")])
        assert "compact" in str(silences)  # the latest record of each silence; their history is the audit
        changelog = f"{prefix}-custody-cases-changelog"
        assert len(admin.describe_topics([changelog])[0]["partitions"]) == 3, "co-partitioned with its input"
        assert config(admin, changelog, "cleanup.policy") == "compact"
        assert config(admin, changelog, "segment.bytes") == str(16 * 1024 * 1024), "compacted within hours"
        # A changelog Faust made before (a week's segments) is brought in line.
        admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, changelog, configs={"segment.bytes": "1073741824"})],
            incremental=True,
        )
        aligned = run(["topics"], env)
        assert aligned.returncode == 0 and aligned.stdout.count("updated") == 1, aligned.stdout
        assert config(admin, changelog, "segment.bytes") == str(16 * 1024 * 1024)
    finally:
        admin.close()

    # The record outlives the 30-day operational topics: kept for ever by default, and a force's
    # own retention reaches topics made before it was set.
    audit = f"{prefix}.alert-transitions"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        assert retention(admin, audit) == "-1" and retention(admin, f"{prefix}.deliveries") == "-1"
        seven_years = run(["topics"], {**env, "WATCHKEEPER_RECORD_RETENTION_DAYS": "2557"})
        assert seven_years.returncode == 0 and seven_years.stdout.count("updated") == 4, seven_years.stdout
        assert retention(admin, audit) == str(2557 * 24 * 3600 * 1000)
        assert retention(admin, f"{prefix}.custody.events") == str(2 * 24 * 3600 * 1000), "input untouched"
    finally:
        admin.close()

    mismatch = run(["topics"], {**env, "WATCHKEEPER_PARTITIONS": "4"})
    assert mismatch.returncode == 1
    assert "has 3 partitions, expected 4" in mismatch.stderr


def test_send_validates_publishes_keyed_by_subject_and_drops_unknown_fields(
    deployment: Callable[..., Deployment], tmp_path: Path
) -> None:
    from kafka import KafkaConsumer

    d = deployment()
    assert run(["topics"], d.env).returncode == 0
    event = detention("CR-SEND")
    event["data"]["child_name"] = "Jane Smith"
    events = tmp_path / "events.jsonl"
    events.write_text(
        json.dumps(event) + "\n" + json.dumps(cloudevent("PP-SEND", "protection.parents.informed")) + "\n"
    )

    result = run(["send", str(events)], d.env)
    assert result.returncode == 0, result.stderr
    assert "sent 2 event(s)" in result.stdout

    consumer = KafkaConsumer(
        d.topic("custody"),
        d.topic("protection"),
        bootstrap_servers=d.settings.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
    )
    records = list(consumer)
    consumer.close()
    assert sorted((r.topic, r.key) for r in records) == [
        (d.topic("custody"), b"CR-SEND"),
        (d.topic("protection"), b"PP-SEND"),
    ]
    assert all(b"Jane" not in r.value and b"child_name" not in r.value for r in records)


def test_the_readme_demo_shows_a_warning_and_a_breach_within_a_minute(bootstrap: str) -> None:
    """``make demo`` runs ``python -m devtools.demo`` from the checkout."""
    env = {**os.environ, "WATCHKEEPER_BOOTSTRAP_SERVERS": bootstrap}
    command = [sys.executable, "-m", "devtools.demo", "--timeout", "60"]
    result = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=150)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert any(line.startswith("WARNING medium | custody.appropriate_adult.arrival") for line in lines)
    assert any(line.startswith("BREACH high | custody.appropriate_adult.arrival") for line in lines)
    assert not any("case CR-DEMO-2" in line for line in lines if line.startswith(("WARNING", "BREACH")))
    assert "webhook: 2 pages, 1 resolved" in result.stdout, "the warning's page, the breach's, the warning resolved"
    assert any(line.startswith("webhook | received resolve (superseded) warning") for line in lines)


def test_the_demo_loads_a_simulated_history_that_pages_nobody_and_reports_it(bootstrap: str) -> None:
    """``make demo HISTORY=2d``: the one-minute story, then a small force's past days imported."""
    env = {**os.environ, "WATCHKEEPER_BOOTSTRAP_SERVERS": bootstrap}
    command = [sys.executable, "-m", "devtools.demo", "--timeout", "60", "--history", "2d"]
    result = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "webhook: 2 pages, 1 resolved" in result.stdout, "the story first, as ever"
    assert "and paged nobody for them" in result.stdout
    imported = next(line for line in result.stdout.splitlines() if "events of history" in line)
    assert int(imported.split("imported ")[1].split(" ")[0]) > 50
    report = Path(result.stdout.split("a report of those 2 days: ")[1].split()[0])
    assert "Child protection compliance" in report.read_text()
