"""A broker restart on its own data: the worker rides it out by itself, its log stays small,
and the breaches that fall due around the outage still reach a real receiver. Runs its own
broker (deploy/kafka/broker.sh restart keeps the data), so the shared one is not disturbed."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BROKER, REPO, Deployment, Receiver, cloudevent, detention, free_port, wait_until

pytestmark = pytest.mark.broker
AA_4S = str(REPO / "tests" / "integration" / "aa-4s.yaml")


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    if os.environ.get("WATCHKEEPER_BOOTSTRAP_SERVERS"):
        pytest.skip("needs the local broker script, not an external cluster")
    port = free_port()
    while not port_free(port + 1):  # the controller takes the next port
        port = free_port()
    env = {**os.environ, "WATCHKEEPER_KAFKA_PORT": str(port), "WATCHKEEPER_KAFKA_HOME": str(tmp_path / "kafka")}
    subprocess.run([str(BROKER), "start"], env=env, check=True)
    yield f"127.0.0.1:{port}", env
    subprocess.run([str(BROKER), "stop"], env=env, check=False)


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def breached(receiver: Receiver, case: str) -> bool:
    return any(p["data"]["case"] == case and p["data"]["stage"] == "breach" for p in receiver.bodies())


def test_a_worker_rides_out_a_broker_restart_with_a_bounded_log_and_stops_on_sigterm_without_one(
    own_broker: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    bootstrap, broker_env = own_broker
    receiver = Receiver()
    d = Deployment(
        bootstrap,
        tmp_path,
        WATCHKEEPER_WEBHOOK_URL=receiver.url,
        WATCHKEEPER_POLICY_OVERRIDES=AA_4S,
        WATCHKEEPER_WEB_PORT=str(free_port()),
        WATCHKEEPER_KAFKA_RECONNECT_CAP_SECONDS="2",
    )
    try:
        worker = d.start_worker()
        now = dt.datetime.now(dt.UTC)
        d.send(detention("CR-BEFORE", at=now))
        d.send(cloudevent("CR-BEFORE", "custody.appropriate_adult.requested", at=now))
        wait_until(lambda: breached(receiver, "CR-BEFORE"), 60)

        # A case whose breach falls due while the broker is down.
        now = dt.datetime.now(dt.UTC)
        d.send(detention("CR-DURING", at=now))
        d.send(cloudevent("CR-DURING", "custody.appropriate_adult.requested", at=now))
        lines_before = worker.output().count("\n")
        subprocess.run([str(BROKER), "halt"], env=broker_env, check=True)
        time.sleep(20)
        outage_lines = worker.output().count("\n") - lines_before
        subprocess.run([str(BROKER), "resume"], env=broker_env, check=True)
        print(f"{outage_lines} log lines during a 20 s broker outage")
        assert outage_lines < 60, worker.output()[-3000:]

        wait_until(lambda: breached(receiver, "CR-DURING"), 90)
        now = dt.datetime.now(dt.UTC)
        d.send(detention("CR-AFTER", at=now))
        d.send(cloudevent("CR-AFTER", "custody.appropriate_adult.requested", at=now))
        wait_until(lambda: breached(receiver, "CR-AFTER"), 90)
        assert worker.proc.poll() is None

        # SIGTERM while the broker is down: the worker stops within the stop timeout (10 s) all the same.
        subprocess.run([str(BROKER), "halt"], env=broker_env, check=True)
        time.sleep(3)
        started = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)
        worker.proc.wait(timeout=30)
        print(f"stopped {time.monotonic() - started:.1f} s after SIGTERM with the broker down")
        assert time.monotonic() - started < 20
    finally:
        d.close()
        receiver.down()
        subprocess.run([str(BROKER), "resume"], env=broker_env, check=False)
