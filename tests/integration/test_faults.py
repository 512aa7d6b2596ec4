"""Fault injection on the real broker, judged at a real signed receiver (issue 12).

A worker is killed with -9 about a minute into 10,000 appropriate-adult deadlines falling
due over two minutes, and restarted on its data 8 s later. Every breach must reach the
receiver, verified by its Standard Webhooks signature; a repeated webhook-id is allowed
(at-least-once) but a missing breach is not.

Once per CI run. The stress job runs it several times in a row:

    make stress        # every fault test, 5 times in a row
    WATCHKEEPER_STRESS_RUNS=5 .venv/bin/pytest tests/integration/test_faults.py -s
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from standardwebhooks import Webhook

from tests.alerts.helpers import SECRET_NEW
from tests.conftest import REPO, Deployment, Receiver, cloudevent, free_port

pytestmark = pytest.mark.broker
AA_4S = str(REPO / "tests" / "integration" / "aa-4s.yaml")
RUNS = int(os.environ.get("WATCHKEEPER_STRESS_RUNS", "1"))
DEADLINES = int(os.environ.get("WATCHKEEPER_STRESS_DEADLINES", "10000"))
SPREAD = 120.0


@pytest.mark.parametrize("run", range(RUNS))
def test_kill_9_under_load_misses_no_breach_at_a_signed_receiver(
    deployment: Callable[..., Deployment], run: int
) -> None:
    receiver = Receiver()
    d = deployment(
        WATCHKEEPER_POLICY_OVERRIDES=AA_4S,
        WATCHKEEPER_PARTITIONS="8",
        WATCHKEEPER_SESSION_TIMEOUT_SECONDS="6",
        WATCHKEEPER_WEB_PORT=str(free_port()),
        WATCHKEEPER_WEBHOOK_URL=receiver.url,
        WATCHKEEPER_WEBHOOK_SECRET=SECRET_NEW,
        WATCHKEEPER_CONSOLE="off",
    )
    try:
        worker = d.start_worker()
        cases = [f"CR-F{i:05d}" for i in range(DEADLINES)]
        for case in cases:  # the children are in custody first
            now = dt.datetime.now(dt.UTC)
            event = cloudevent(
                case, "custody.detention.authorised", {"age_years": 15, "custody_suite": "SUITE-F"}, at=now
            )
            event["data"]["relevant_time"] = now.isoformat()
            d.producer.send(d.topic("custody"), key=case.encode(), value=json.dumps(event).encode())
        d.producer.flush()

        def request_over_two_minutes() -> None:
            """Requests paced so that AA deadlines (4 s) fall due steadily for two minutes."""
            started = time.monotonic()
            for i, case in enumerate(cases):
                while time.monotonic() < started + SPREAD * i / DEADLINES:
                    time.sleep(0.005)
                request = cloudevent(case, "custody.appropriate_adult.requested", at=dt.datetime.now(dt.UTC))
                d.producer.send(d.topic("custody"), key=case.encode(), value=json.dumps(request).encode())
            d.producer.flush()

        producing = threading.Thread(target=request_over_two_minutes)
        producing.start()
        time.sleep(60)
        worker.stop(signal.SIGKILL)  # about half-way through
        time.sleep(8)
        restarted = d.start_worker(data_slot=0)
        producing.join()

        def received() -> set[str]:
            return {
                json.loads(body)["data"]["case"]
                for _, body in list(receiver.received)
                if json.loads(body)["data"]["stage"] == "breach"
            }

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and len(received()) < DEADLINES:
            time.sleep(1)
        missing = DEADLINES - len(received())
        per_id = Counter(h["webhook-id"] for h, _ in list(receiver.received))
        repeats = sum(per_id.values()) - len(per_id)
        print(f"run {run}: {DEADLINES} deadlines, kill -9 at 60 s: {missing} breaches missing, {repeats} repeated")
        assert missing == 0, f"{missing} breaches never reached the receiver"
        for headers, body in list(receiver.received):
            Webhook(SECRET_NEW).verify(body, headers)
        assert restarted.proc.poll() is None
    finally:
        receiver.down()
