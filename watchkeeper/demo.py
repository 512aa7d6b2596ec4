"""``watchkeeper demo``: the whole path, end to end, in under a minute.

Starts the local Kafka broker (unless WATCHKEEPER_BOOTSTRAP_SERVERS points elsewhere), a
worker with the appropriate-adult target shortened to 20 s, and a small webhook receiver.
Then two children are brought into custody. The first child's AA never arrives: a warning
and then a breach are printed by the worker and POSTed to the webhook. The second child's AA
arrives after 5 s, so nothing fires for them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from alerts.tokens import credential_for, generate_token
from watchkeeper.settings import Settings

REPO = Path(__file__).resolve().parents[1]
BROKER = REPO / "deploy" / "kafka" / "broker.sh"
DEMO_POLICY = REPO / "deploy" / "policy" / "demo-overrides.yaml"
UTC = dt.UTC


def say(text: str) -> None:
    print(f"demo    | {text}", flush=True)


def cloudevent(subject: str, event_type: str, data: dict[str, Any], at: dt.datetime) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "demo/custody-system",
        "type": event_type,
        "subject": subject,
        "time": at.isoformat(),
        "recordedtime": at.isoformat(),
        "data": data,
    }


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))["data"]
        _Receiver.received.append(body)
        self.send_response(204)
        self.end_headers()
        print(
            f"webhook | received {body['status']} {body['stage']} {body['alert_id']} for case {body['case']}",
            flush=True,
        )

    def log_message(self, *args: Any) -> None:
        pass


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_group_coordinator(settings: Settings) -> None:
    """A brand-new broker creates its offsets topic on the first group request; doing that
    here keeps the worker's first seconds free of a transient coordinator error."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, group_id=f"{settings.app_id}-warmup", enable_auto_commit=False
    )
    try:
        consumer.subscribe([input_topic_name(settings)])
        consumer.poll(timeout_ms=5000)
    finally:
        consumer.close()


def input_topic_name(settings: Settings) -> str:
    from streams.topics import input_topic

    return input_topic(settings, "custody")


def run_demo(timeout_s: float = 120.0, hold_s: float = 0.0) -> int:
    from kafka import KafkaConsumer, KafkaProducer

    from streams.topics import alerts_topic, ensure_topics, input_topic

    started_broker = False
    if not os.environ.get("WATCHKEEPER_BOOTSTRAP_SERVERS"):
        say("starting the local Apache Kafka broker (KRaft) …")
        subprocess.run([str(BROKER), "start"], check=True)
        started_broker = True
    run = f"demo-{dt.datetime.now(UTC):%Y%m%d%H%M%S}"
    env = {
        **os.environ,
        "WATCHKEEPER_TOPIC_PREFIX": run,
        "WATCHKEEPER_PARTITIONS": "2",
        "WATCHKEEPER_POLICY_OVERRIDES": str(DEMO_POLICY),
        "WATCHKEEPER_RECOVERY_DELAY_SECONDS": "0.2",
        "WATCHKEEPER_WEB_PORT": str(_free_port()),
        "WATCHKEEPER_DATA_DIR": f"/tmp/watchkeeper/{run}",
    }
    settings = Settings.from_env(env)

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env["WATCHKEEPER_WEBHOOK_URL"] = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    console_token = generate_token()  # the demo makes its own token and session key, as every deployment must
    env["WATCHKEEPER_CONSOLE_USERS"] = f"demo-inspector:inspector:{credential_for(console_token)}"
    env["WATCHKEEPER_SESSION_SECRET"] = secrets.token_hex(32)
    console_url = f"http://127.0.0.1:{env['WATCHKEEPER_WEB_PORT']}/console"

    ensure_topics(settings)
    _wait_for_group_coordinator(settings)
    say(f"topics {run}.* created; starting a worker (AA target shortened to 20 s by {DEMO_POLICY.name})")
    worker = subprocess.Popen([sys.executable, "-m", "watchkeeper", "worker"], env=env)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    consumer = KafkaConsumer(
        alerts_topic(settings),
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=500,
    )
    topic = input_topic(settings, "custody")

    def send(subject: str, event_type: str, data: dict[str, Any] | None = None) -> None:
        event = cloudevent(subject, event_type, data or {}, dt.datetime.now(UTC))
        producer.send(topic, key=subject.encode(), value=json.dumps(event).encode()).get(timeout=30)

    try:
        now = dt.datetime.now(UTC)
        for subject, age in (("CR-DEMO-1", 15), ("CR-DEMO-2", 16)):
            send(
                subject,
                "custody.detention.authorised",
                {"relevant_time": now.isoformat(), "age_years": age, "custody_suite": "SUITE-NORTH"},
            )
            send(subject, "custody.appropriate_adult.requested")
        say("CR-DEMO-1 (15) and CR-DEMO-2 (16) detained at SUITE-NORTH; an appropriate adult requested for both")
        say(f"console: open {console_url} and sign in with the token {console_token}")
        deadline = time.monotonic() + timeout_s
        seen: list[dict[str, Any]] = []
        aa_sent_at = time.monotonic() + 5
        aa_sent = False
        while time.monotonic() < deadline:
            if not aa_sent and time.monotonic() >= aa_sent_at:
                send("CR-DEMO-2", "custody.appropriate_adult.arrived")
                aa_sent = True
                say("CR-DEMO-2: the appropriate adult has arrived (in time: no alert expected)")
            for record in consumer:
                seen.append(json.loads(record.value))
            if any(a["case"] == "CR-DEMO-1" and a["stage"] == "breach" for a in seen) and len(_Receiver.received) >= 2:
                break
            if worker.poll() is not None:
                say(f"the worker exited with status {worker.returncode}")
                return 1
        breaches = [a for a in seen if a["stage"] == "breach"]
        warnings = [a for a in seen if a["stage"] == "warning"]
        wrong = [a for a in seen if a["case"] == "CR-DEMO-2"]
        if not breaches or wrong:
            say(
                f"unexpected result: {len(warnings)} warning(s), {len(breaches)} breach(es), "
                f"{len(wrong)} alert(s) for CR-DEMO-2"
            )
            return 1
        say(
            f"done: {len(warnings)} warning and {len(breaches)} breach for CR-DEMO-1, none for CR-DEMO-2; "
            f"{len(_Receiver.received)} webhook deliveries"
        )
        if hold_s > 0:
            say(f"the worker keeps running for {hold_s:.0f} s: the console is at {console_url} (Ctrl-C ends it)")
            with contextlib.suppress(KeyboardInterrupt):
                time.sleep(hold_s)
        return 0
    finally:
        producer.close()
        consumer.close()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        server.shutdown()
        if started_broker:
            subprocess.run([str(BROKER), "stop"], check=False)
