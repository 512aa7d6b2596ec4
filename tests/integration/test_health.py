"""/livez and /readyz on a real worker: not ready until it owns its partitions, has recovered
its tables, rebuilt its due indexes and read the silence log; ready after."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest

from tests.conftest import Deployment, detention, free_port

pytestmark = pytest.mark.broker


def probe(url: str) -> tuple[int, dict[str, object]] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None  # the web server is not up yet


class Poller(threading.Thread):
    """Asks /readyz every 50 ms from before the worker starts until stopped."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.seen, self.done = url, [], threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            answer = probe(self.url)
            if answer is not None:
                self.seen.append(answer)
            time.sleep(0.05)


def test_readyz_is_false_while_a_worker_recovers_its_tables_then_true(deployment: Callable[..., Deployment]) -> None:
    port = free_port()
    d = deployment(WATCHKEEPER_WEB_PORT=str(port))
    first = d.start_worker()
    now = dt.datetime.now(dt.UTC)
    for i in range(300):
        d.send(detention(f"CR-READY-{i}", at=now))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (probe(f"http://127.0.0.1:{port}/readyz") or (0, {}))[0] != 200:
        time.sleep(0.2)
    assert probe(f"http://127.0.0.1:{port}/livez") == (200, {"live": True})
    first.stop()

    poller = Poller(f"http://127.0.0.1:{port}/readyz")
    poller.start()
    d.start_worker()  # a new data directory: its tables are recovered from their changelogs
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (poller.seen and poller.seen[-1][0] == 200):
        time.sleep(0.2)
    poller.done.set()
    poller.join()

    statuses = [status for status, _ in poller.seen]
    assert statuses and statuses[-1] == 200, statuses[-5:]
    assert 503 in statuses and statuses.index(503) < statuses.index(200), "not ready before it is"
    first_ready = statuses.index(200)
    assert all(status == 200 for status in statuses[first_ready:]), "ready stays ready without a rebalance"
    not_ready = [body for status, body in poller.seen if status == 503]
    assert all(body["ready"] is False and not all(body["checks"].values()) for body in not_ready)  # type: ignore[union-attr]
    assert poller.seen[-1][1] == {
        "ready": True,
        "checks": {
            "partitions_assigned": True,
            "tables_recovered": True,
            "due_indexes_rebuilt": True,
            "silences_loaded": True,
        },
    }
