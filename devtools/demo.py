"""``make demo`` (``python -m devtools.demo``): the whole path, end to end, in under a minute.

Starts the local Kafka broker (unless WATCHKEEPER_BOOTSTRAP_SERVERS points elsewhere), a
worker with the appropriate-adult target shortened to 20 s, and a small webhook receiver.
Then two children are brought into custody. The first child's AA never arrives: a warning
and then a breach are printed by the worker and POSTed to the webhook. The second child's AA
arrives after 5 s, so nothing fires for them.

A development tool: it needs a checkout (the broker script and the demo's policy file are in
``deploy/``), so it is not part of an installed Watchkeeper.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from alerts.tokens import credential_for, generate_token
from devtools.local import Receiver, cloudevent, free_port
from worker.settings import Settings
from worker.topics import alerts_topic, ensure_topics, input_topic

REPO = Path(__file__).resolve().parents[1]
BROKER = REPO / "deploy" / "kafka" / "broker.sh"
DEMO_POLICY = REPO / "deploy" / "policy" / "demo-overrides.yaml"
LOCAL_BROKER = f"127.0.0.1:{os.environ.get('WATCHKEEPER_KAFKA_PORT', '19092')}"
"""The broker deploy/kafka/broker.sh starts, on WATCHKEEPER_KAFKA_PORT like the script."""
UTC = dt.UTC


def say(text: str) -> None:
    print(f"demo    | {text}", flush=True)


def _heard(headers: dict[str, str], body: bytes) -> None:
    """What the receiver was asked to do: trigger a page, acknowledge it or resolve it, and why."""
    payload = json.loads(body)
    alert, action = payload["data"], payload["type"].rsplit(".", 1)[-1]
    print(
        f"webhook | received {action} ({alert['state']}) {alert['stage']} {alert['alert_id']} for case {alert['case']}",
        flush=True,
    )


def _actions(receiver: Receiver) -> list[tuple[str, str]]:
    """(action, stage) of every delivery the receiver took."""
    out = []
    for _, body in receiver.received:
        payload = json.loads(body)
        out.append((payload["type"].rsplit(".", 1)[-1], payload["data"]["stage"]))
    return out


def _wait_for_group_coordinator(settings: Settings) -> None:
    """A brand-new broker creates its offsets topic on the first group request; doing that
    here keeps the worker's first seconds free of a transient coordinator error."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, group_id=f"{settings.app_id}-warmup", enable_auto_commit=False
    )
    try:
        consumer.subscribe([input_topic(settings, "custody")])
        consumer.poll(timeout_ms=5000)
    finally:
        consumer.close()


@dataclass
class Demo:
    """One run: its own topics, a worker, a receiver, and the alerts seen so far."""

    env: dict[str, str]
    settings: Settings
    receiver: Receiver
    console_url: str
    console_token: str
    seen: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def prepare(cls) -> Demo:
        run = f"demo-{dt.datetime.now(UTC):%Y%m%d%H%M%S}"
        local = (
            {} if os.environ.get("WATCHKEEPER_BOOTSTRAP_SERVERS") else {"WATCHKEEPER_BOOTSTRAP_SERVERS": LOCAL_BROKER}
        )
        env = {
            **os.environ,
            **local,
            "WATCHKEEPER_TOPIC_PREFIX": run,
            "WATCHKEEPER_PARTITIONS": "2",
            "WATCHKEEPER_POLICY_OVERRIDES": str(DEMO_POLICY),
            "WATCHKEEPER_RECOVERY_DELAY_SECONDS": "0.2",
            "WATCHKEEPER_WEB_PORT": os.environ.get("WATCHKEEPER_WEB_PORT") or str(free_port()),
            "WATCHKEEPER_DATA_DIR": f"/tmp/watchkeeper/{run}",
        }
        receiver = Receiver(on_post=_heard)
        env["WATCHKEEPER_WEBHOOK_URL"] = receiver.url
        console_token = generate_token()  # the demo makes its own token and session key, as every deployment must
        env["WATCHKEEPER_CONSOLE_USERS"] = f"demo-inspector:inspector:{credential_for(console_token)}"
        env["WATCHKEEPER_SESSION_SECRET"] = secrets.token_hex(32)
        console_url = f"http://127.0.0.1:{env['WATCHKEEPER_WEB_PORT']}/console"
        return cls(env, Settings.from_env(env), receiver, console_url, console_token)

    def breached(self) -> bool:
        """The breach is raised and its page delivered, and the warning's page resolved."""
        actions = _actions(self.receiver)
        return ("trigger", "breach") in actions and ("resolve", "warning") in actions

    def verdict(self) -> int:
        raised = [a for a in self.seen if a["status"] == "firing"]
        breaches = [a for a in raised if a["stage"] == "breach"]
        warnings = [a for a in raised if a["stage"] == "warning"]
        wrong = [a for a in self.seen if a["case"] == "CR-DEMO-2"]
        if not breaches or wrong:
            say(
                f"unexpected result: {len(warnings)} warning(s), {len(breaches)} breach(es), "
                f"{len(wrong)} alert(s) for CR-DEMO-2"
            )
            return 1
        actions = _actions(self.receiver)
        pages, resolves = actions.count(("trigger", "warning")) + actions.count(("trigger", "breach")), len(actions)
        say(
            f"done: {len(warnings)} warning and {len(breaches)} breach for CR-DEMO-1 (the warning gave way to the "
            f"breach), none for CR-DEMO-2; webhook: {pages} pages, {resolves - pages} resolved"
        )
        return 0


def _alerts(settings: Settings) -> Any:
    """A reader of the run's alerts topic from its start, that stops when nothing comes for 0.5 s."""
    from kafka import KafkaConsumer

    return KafkaConsumer(
        alerts_topic(settings),
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=500,
    )


def play(demo: Demo, worker: subprocess.Popen[bytes], timeout_s: float) -> int:
    """The scenario: two children detained, one AA arrives in time, the other never does."""
    from kafka import KafkaProducer

    settings = demo.settings
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    consumer = _alerts(settings)

    def send(subject: str, event_type: str, data: dict[str, Any] | None = None) -> None:
        event = cloudevent(subject, event_type, data, at=dt.datetime.now(UTC), source="demo/custody-system")
        producer.send(input_topic(settings, "custody"), key=subject.encode(), value=json.dumps(event).encode()).get(
            timeout=30
        )

    try:
        now = dt.datetime.now(UTC)
        for subject, age in (("CR-DEMO-1", 15), ("CR-DEMO-2", 16)):
            detained = {"relevant_time": now.isoformat(), "age_years": age, "custody_suite": "SUITE-NORTH"}
            send(subject, "custody.detention.authorised", detained)
            send(subject, "custody.appropriate_adult.requested")
        say("CR-DEMO-1 (15) and CR-DEMO-2 (16) detained at SUITE-NORTH; an appropriate adult requested for both")
        say(f"console: open {demo.console_url} and sign in with the token {demo.console_token}")
        if not os.environ.get("WATCHKEEPER_WEB_PORT"):
            say("(the console's port was free and picked for this run: set WATCHKEEPER_WEB_PORT to choose it)")
        deadline, aa_arrives = time.monotonic() + timeout_s, time.monotonic() + 5
        while time.monotonic() < deadline and not demo.breached():
            if aa_arrives and time.monotonic() >= aa_arrives:
                send("CR-DEMO-2", "custody.appropriate_adult.arrived")
                aa_arrives = 0.0
                say("CR-DEMO-2: the appropriate adult has arrived (in time: no alert expected)")
            demo.seen += [json.loads(record.value) for record in consumer]
            if worker.poll() is not None:
                say(f"the worker exited with status {worker.returncode}")
                return 1
        return demo.verdict()
    finally:
        producer.close()
        consumer.close()


HISTORY_GAP: Final = dt.timedelta(days=4)
"""The simulated history ends this long before now, so its clocks (96 hours at most in custody)
have run their course: what they raise is historical and pages nobody."""


def load_history(demo: Demo, days: int) -> int:
    """A simulated small force's past month imported into the running worker (its alerts are
    historical: recorded and shown, never paged), and a report of it written beside the data."""
    folder = Path(demo.env["WATCHKEEPER_DATA_DIR"] + "-history")
    folder.mkdir(parents=True, exist_ok=True)
    history, page = folder / "history.jsonl", folder / "report.html"
    end = dt.datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - HISTORY_GAP
    start = end - dt.timedelta(days=days)
    say(f"simulating {days} days of a small force, {start:%d %b} to {end:%d %b} …")
    steps = [
        ["simulate", "--days", str(days), "--profile", "small", "--start", start.isoformat(), "--out", str(history)],
        ["import", str(history), "--rate", "100000"],
        ["report", str(history), "--from", start.date().isoformat(),
         "--to", (end - dt.timedelta(days=1)).date().isoformat(), "--out", str(page)],
    ]  # fmt: skip
    for step in steps:
        done = subprocess.run(
            [sys.executable, "-m", "watchkeeper", *step], env=demo.env, capture_output=True, text=True
        )
        if done.returncode != 0:
            say(f"watchkeeper {step[0]} failed: {done.stderr.strip()[-500:]}")
            return 1
    pages_before = len(demo.receiver.received)
    alerts = _settle(demo.settings)
    paged = len(demo.receiver.received) - pages_before
    who = "nobody" if paged == 0 else f"{paged} time(s)"
    events = sum(1 for _ in history.open())
    say(f"imported {events} events of history; the worker raised {alerts} alert messages, historical on the console,")
    say(f"and paged {who} for them")
    say(f"a report of those {days} days: {page}")
    return 0 if paged == 0 else 1


def _settle(settings: Settings, quiet_s: float = 5.0, limit_s: float = 120.0) -> int:
    """Read the alerts topic until nothing new has come for ``quiet_s``: the worker has caught up."""
    consumer = _alerts(settings)
    seen, quiet_since, deadline = 0, time.monotonic(), time.monotonic() + limit_s
    try:
        while time.monotonic() < deadline and time.monotonic() - quiet_since < quiet_s:
            got = sum(1 for _ in consumer)
            if got:
                seen, quiet_since = seen + got, time.monotonic()
    finally:
        consumer.close()
    return seen


def run_demo(timeout_s: float = 120.0, hold_s: float = 0.0, history_days: int = 0) -> int:
    started_broker = not os.environ.get("WATCHKEEPER_BOOTSTRAP_SERVERS")
    if started_broker:
        say("starting the local Apache Kafka broker (KRaft) …")
        subprocess.run([str(BROKER), "start"], check=True)
    demo = Demo.prepare()
    ensure_topics(demo.settings)
    _wait_for_group_coordinator(demo.settings)
    say(f"topics {demo.settings.topic_prefix}.* created; starting a worker (AA target shortened to 20 s by "
        f"{DEMO_POLICY.name})")  # fmt: skip
    worker = subprocess.Popen([sys.executable, "-m", "watchkeeper", "worker"], env=demo.env)
    try:
        outcome = play(demo, worker, timeout_s)
        if outcome == 0 and history_days > 0:
            outcome = load_history(demo, history_days)
        if outcome == 0 and hold_s > 0:
            say(f"the worker keeps running for {hold_s:.0f} s: the console is at {demo.console_url} (Ctrl-C ends it)")
            with contextlib.suppress(KeyboardInterrupt):
                time.sleep(hold_s)
        return outcome
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        demo.receiver.down()
        if started_broker:
            subprocess.run([str(BROKER), "stop"], check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.demo",
        description="The main job on the local broker: a child waits for an appropriate adult, a warning then a "
        "breach appear within a minute; a second child's AA arrives in time and nothing fires.",
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds (default 120)")
    parser.add_argument(
        "--hold", type=float, default=0.0, help="keep the worker running this many seconds to look at the console"
    )
    parser.add_argument(
        "--history",
        type=lambda text: int(text.rstrip("d")),
        default=0,
        metavar="DAYS",
        help="then import a simulated small force's past DAYS (30d) and write a report of them",
    )
    args = parser.parse_args(argv)
    return run_demo(timeout_s=args.timeout, hold_s=args.hold, history_days=args.history)


if __name__ == "__main__":
    sys.exit(main())
