"""Shared test fixtures: a real Kafka broker, real worker processes, event builders.

The broker is the project's own (deploy/kafka/broker.sh, Apache Kafka in KRaft mode) unless
WATCHKEEPER_BOOTSTRAP_SERVERS names another cluster. Nothing here mocks Kafka.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from devtools import local
from devtools.local import Receiver, free_port
from streams.contract import DOMAINS

__all__ = ["Receiver", "free_port"]

# Property tests: 300 examples in CI; WATCHKEEPER_HYPOTHESIS=thorough for a long local run.
hypothesis_settings.register_profile("default", max_examples=300)
hypothesis_settings.register_profile("thorough", max_examples=20000)
hypothesis_settings.load_profile(os.environ.get("WATCHKEEPER_HYPOTHESIS", "default"))

REPO = Path(__file__).resolve().parents[1]
BROKER = REPO / "deploy" / "kafka" / "broker.sh"
UTC = dt.UTC
T0 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


# ----------------------------------------------------------------------------- policy
AA_ARRIVAL = "custody.appropriate_adult.arrival"


def only_rules(*rule_ids: str, overrides: tuple[Path, ...] = ()) -> Any:
    """The built-in packs cut down to ``rule_ids``, so a test of one rule sees only its alerts."""
    from agents.policy import Policy, load_policy

    full = load_policy(overrides=overrides)
    return Policy(
        rules=tuple(r for r in full.rules if r.id in rule_ids),
        allowed_lateness=full.allowed_lateness,
        calendar=full.calendar,
        sources=full.sources,
    )


# ----------------------------------------------------------------------------- events
def cloudevent(
    subject: str,
    event_type: str,
    data: dict[str, Any] | None = None,
    *,
    at: dt.datetime = T0,
    recorded: dt.datetime | None = None,
    event_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return local.cloudevent(subject, event_type, data, at=at, recorded=recorded, event_id=event_id, **extra)


def detention(
    subject: str, age: int = 15, at: dt.datetime = T0, suite: str = "SUITE-A", event_id: str | None = None
) -> dict[str, Any]:
    return cloudevent(
        subject,
        "custody.detention.authorised",
        {"relevant_time": at.isoformat(), "age_years": age, "custody_suite": suite},
        at=at,
        event_id=event_id,
    )


# ----------------------------------------------------------------------------- broker
def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


@pytest.fixture(scope="session")
def bootstrap() -> Iterator[str]:
    """The real broker: an existing cluster if WATCHKEEPER_BOOTSTRAP_SERVERS is set, else the local one."""
    servers = os.environ.get("WATCHKEEPER_BOOTSTRAP_SERVERS")
    if servers:
        yield servers
        return
    port = int(os.environ.get("WATCHKEEPER_KAFKA_PORT", "19092"))
    started = False
    if not _port_open("127.0.0.1", port):
        subprocess.run([str(BROKER), "start"], check=True)
        started = True
    yield f"127.0.0.1:{port}"
    if started and not os.environ.get("WATCHKEEPER_KEEP_BROKER"):
        subprocess.run([str(BROKER), "stop"], check=False)


def wait_until(check: Callable[[], object], timeout: float = 60.0) -> None:
    """Poll ``check`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s")


class Deployment:
    """One isolated Watchkeeper deployment on the shared broker: its own topic prefix and app id."""

    def __init__(self, bootstrap: str, tmp: Path, **env: str) -> None:
        self.prefix = f"t{uuid.uuid4().hex[:10]}"
        self.tmp = tmp
        self.env = {
            **os.environ,
            "WATCHKEEPER_BOOTSTRAP_SERVERS": bootstrap,
            "WATCHKEEPER_TOPIC_PREFIX": self.prefix,
            "WATCHKEEPER_PARTITIONS": "2",
            "WATCHKEEPER_RECOVERY_DELAY_SECONDS": "0.2",
            "WATCHKEEPER_TICK_SECONDS": "0.5",
            "WATCHKEEPER_LOG_LEVEL": os.environ.get("WATCHKEEPER_TEST_LOG_LEVEL", "warning"),
            **env,
        }
        self.overrides = env
        from worker.settings import Settings

        self.settings = Settings.from_env(self.env)
        self.workers: list[WorkerProcess] = []
        from kafka import KafkaProducer

        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")

    def topic(self, kind: str) -> str:
        from worker import topics

        if kind in DOMAINS:
            return topics.input_topic(self.settings, kind)
        named = {
            "alerts": topics.alerts_topic,
            "deadletter": topics.deadletter_topic,
            "alert-transitions": topics.alert_transitions_topic,
            "deliveries": topics.deliveries_topic,
        }
        return named[kind](self.settings)

    def start_worker(self, data_slot: int | None = None, **env_overrides: str) -> WorkerProcess:
        """Each worker keeps its table store in its own data directory, as on separate hosts;
        ``data_slot`` reuses an earlier worker's directory, as a restart on the same host does."""
        slot = len(self.workers) if data_slot is None else data_slot
        env = (
            {"WATCHKEEPER_DATA_DIR": str(self.tmp / f"data-{slot}")}
            if "WATCHKEEPER_DATA_DIR" not in self.overrides
            else {}
        )
        worker = WorkerProcess({**self.env, **env, **env_overrides}, self.tmp / f"worker-{len(self.workers)}.log")
        self.workers.append(worker)
        worker.wait_ready()
        return worker

    def send(
        self,
        event: dict[str, Any] | bytes,
        *,
        domain: str = "custody",
        key: bytes | str | None = "subject",
        headers: dict[str, bytes] | None = None,
    ) -> None:
        value = event if isinstance(event, bytes) else json.dumps(event).encode()
        if key == "subject":
            key = event["subject"].encode() if isinstance(event, dict) else None
        pairs = list((headers or {}).items()) or None
        self.producer.send(self.topic(domain), key=key, value=value, headers=pairs).get(timeout=30)

    def read(
        self, kind: str, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 60.0, settle: float = 0.0
    ) -> list[dict[str, Any]]:
        """Read a topic from the start until ``until(records)`` holds, then ``settle`` seconds more
        (to catch anything that should *not* be there)."""
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(
            self.topic(kind),
            bootstrap_servers=self.settings.bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            consumer_timeout_ms=250,
        )
        records: list[dict[str, Any]] = []
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not until(records):
                records += [json.loads(r.value) for r in consumer]
            end = time.monotonic() + settle
            while time.monotonic() < end:
                records += [json.loads(r.value) for r in consumer]
        finally:
            consumer.close()
        return records

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.producer.close()


class WorkerProcess:
    """``watchkeeper worker`` as a real subprocess, its stdout captured to a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "watchkeeper", "worker"],
            env=env,
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "worker ready" in self.output():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.output()[-3000:]}")
            time.sleep(0.2)
        raise AssertionError(f"worker not ready in {timeout}s:\n{self.output()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture
def deployment(bootstrap: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Deployment]]:
    """Factory: ``deployment(**env)`` makes an isolated deployment; workers are stopped afterwards."""
    made: list[Deployment] = []

    def make(**env: str) -> Deployment:
        d = Deployment(bootstrap, tmp_path, **env)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            for worker in d.workers:
                print(f"--- {worker.log_path.name} ---\n{worker.output()[-4000:]}")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)


# ----------------------------------------------------------------------------- webhook receiver
@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.down()
