"""Benchmark: deliveries per second from the outbox to one fast local receiver (issue 12).

Puts ``--jobs`` delivery jobs (as the dispatcher writes them: one receiver, alerts spread
over ``--cases`` cases) on a fresh deployment's outbox topic, starts one worker, and times
the receiver's arrivals. Checks that every job arrived exactly once and that each case's
deliveries arrived in the order they were queued.

    python bench/delivery_throughput.py [--jobs 5000] [--cases 500]

Starts the local broker if it is not running. Target: >= 500 deliveries/s.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import msgspec

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agents.alert import Alert  # noqa: E402
from alerts.messages import JOB_ENCODER, Job  # noqa: E402
from tests.alerts.helpers import alert as breach  # noqa: E402
from worker.settings import Settings  # noqa: E402
from worker.topics import ensure_topics, outbox_topic  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alert(case: str, n: int) -> Alert:
    return msgspec.structs.replace(breach(case=case), alert_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{case}/{n}")))


def main() -> None:
    # long: a benchmark reads top to bottom as its procedure: set up, measure, report.
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--cases", type=int, default=500)
    args = parser.parse_args()
    if not os.environ.get("WATCHKEEPER_BOOTSTRAP_SERVERS"):
        subprocess.run([str(REPO / "deploy" / "kafka" / "broker.sh"), "start"], check=True)  # no-op if running
    arrivals: list[tuple[float, str, str]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            with lock:
                arrivals.append((time.monotonic(), body["data"]["case"], self.headers["webhook-id"]))
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *a: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "WATCHKEEPER_TOPIC_PREFIX": prefix,
        "WATCHKEEPER_PARTITIONS": "8",
        "WATCHKEEPER_WEBHOOK_URL": f"http://127.0.0.1:{server.server_address[1]}/hook",
        "WATCHKEEPER_WEB_PORT": str(free_port()),
        "WATCHKEEPER_CONSOLE": "off",
        "WATCHKEEPER_DATA_DIR": f"/tmp/watchkeeper/{prefix}",
        "WATCHKEEPER_RECOVERY_DELAY_SECONDS": "0.2",
    }
    settings = Settings.from_env(env)
    ensure_topics(settings)
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=20)
    queued: dict[str, list[str]] = defaultdict(list)
    for n in range(args.jobs):
        case = f"CR-BENCH-{n % args.cases}"
        job = Job(f"{prefix}.{n}.webhook", "webhook", "trigger", "raised", alert(case, n))
        queued[case].append(job.webhook_id)
        producer.send(outbox_topic(settings), key=b"webhook", value=JOB_ENCODER.encode(job))
    producer.flush()
    producer.close()
    log = Path(f"/tmp/watchkeeper/{prefix}.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    worker = subprocess.Popen(
        [sys.executable, "-m", "watchkeeper", "worker"], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and len(arrivals) < args.jobs:
            time.sleep(0.2)
        time.sleep(2)  # anything delivered twice arrives now
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    ids = [webhook_id for _, _, webhook_id in arrivals]
    assert len(set(ids)) == args.jobs, f"{len(set(ids))} of {args.jobs} delivered"
    per_case: dict[str, list[str]] = defaultdict(list)
    for _, case, webhook_id in arrivals:
        if webhook_id not in per_case[case]:
            per_case[case].append(webhook_id)
    in_order = all(per_case[case] == queued[case] for case in queued)
    first, last = arrivals[0][0], arrivals[-1][0]
    rate = (len(arrivals) - 1) / (last - first)
    print(
        f"{args.jobs} deliveries to one receiver over {args.cases} cases: {rate:,.0f} deliveries/s "
        f"(target >= 500); {len(ids) - len(set(ids))} repeated; each case in order: {in_order}"
    )


if __name__ == "__main__":
    main()
