"""Benchmark (b): one Watchkeeper worker on the real broker, shipped packs, the realistic mix,
against two baselines on the same events in the same run.

    python bench/worker_broker.py [--cases 20000] [--probes 200] [--profile large]

1. The first day of the mix (bench/mix.py: a simulated large force's cases, folded onto one
   day and copied to ``--cases`` cases) is moved to end a minute ago and produced to the
   domains' input topics, keyed by case: every case opens, as in the engine benchmark's
   phase 1. A worker reading it works a day's backlog: stages that fell due since a record
   was entered are raised in hindsight; the rest stay open.
2. Throughput: the same events consumed by
   a. a raw aiokafka consumer that only decodes them (decode_event),
   b. a plain Faust agent that only decodes them (bench/baseline_faust.py),
   c. a Watchkeeper worker with the shipped packs (the default policy).
   Events/s is measured from the first processed event to the last (start-up excluded),
   polling each process's own count (/count, /metrics) every 0.2 s. The worker's count
   includes the records it re-publishes under another key (a child across missing episodes).
3. Memory per case held: the worker's RSS growth over the load, divided by the cases held.
4. Deadline-to-alert lag: with the load's deadlines open, probe children are detained with an
   appropriate adult not yet requested, timed so that the request's 30-minute local standard
   falls due 20 s after sending; lag = raised_at - deadline of each probe breach; p50, p99.
5. Recovery: the worker is stopped and a new one started on the same tables; time from
   process start to ready (due index rebuilt), and to the first probe alert after restart.
6. Takeover: a worker with an empty data directory starts, as one taking over partitions it
   never held would: its tables are read back from the changelog topics; time to ready.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BOOT = os.environ.get("WATCHKEEPER_BOOTSTRAP_SERVERS", "127.0.0.1:19092")

import mix  # noqa: E402  (bench/, beside this file)

from streams.contract import DOMAINS, domain_of  # noqa: E402
from worker.settings import Settings  # noqa: E402
from worker.topics import ensure_topics, input_topic  # noqa: E402

PROBE_RULE = "custody.appropriate_adult.request"
PROBE_TARGET = dt.timedelta(minutes=30)
"""The shipped pack's target for that rule: a probe is detained this long, less 20 s, ago."""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def produce_mix(settings: Settings, cases: int, profile: str, days: int) -> tuple[int, int]:
    """The mix's first day, moved to end a minute ago, to each domain's input topic.
    Returns (events, cases)."""
    from kafka import KafkaProducer

    source = mix.build(profile, days)
    copies = source.copies_for(cases)
    first_day = [e for e in source.events if e.recordedtime < mix.T0 + mix.DAY]
    shift = max(e.recordedtime for e in first_day) - (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    producer = KafkaProducer(bootstrap_servers=BOOT, acks=1, linger_ms=20, batch_size=256 * 1024)
    sent, subjects = 0, set()
    for event in source.phase(1, copies):
        event = mix.moved(event, shift)
        subjects.add(event.subject)
        topic = input_topic(settings, domain_of(event.type))
        producer.send(topic, key=event.subject.encode(), value=json.dumps(event.to_cloudevent()).encode())
        sent += 1
    producer.flush()
    producer.close()
    return sent, len(subjects)


def produce_probes(settings: Settings, prefix: str, count: int, due_in: float) -> dt.datetime:
    """Children detained so that the appropriate adult's request falls due ``due_in`` s from now."""
    from kafka import KafkaProducer

    now = dt.datetime.now(dt.UTC)
    detained = now - PROBE_TARGET + dt.timedelta(seconds=due_in)
    producer = KafkaProducer(bootstrap_servers=BOOT, acks=1)
    for i in range(count):
        case = f"CR-{prefix}-{i:05d}"
        record = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "bench",
            "type": "custody.detention.authorised",
            "subject": case,
            "time": detained.isoformat(),
            "recordedtime": now.isoformat(),
            "data": {"relevant_time": detained.isoformat(), "age_years": 15, "custody_suite": "PROBE"},
        }
        producer.send(input_topic(settings, "custody"), key=case.encode(), value=json.dumps(record).encode())
    producer.flush()
    producer.close()
    return detained + PROBE_TARGET


def processed_faust(port: int) -> int:
    return int(json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/count", timeout=5).read())["processed"])


def processed_watchkeeper(port: int) -> int:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return int(
        sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("watchkeeper_events_total{"))
    )


def watch_progress(
    count: Callable[[], int],
    total: int,
    timeout: float,
    settle: float = 0.0,
    every: float = 0.2,
    done: Callable[[], bool] = lambda: True,
) -> tuple[float, int]:
    """(events/s from the first processed event to the last, events counted), start-up
    excluded. With ``settle``, counting goes on until the count has not moved for that
    long (a worker also counts the records it re-publishes). A worker's count is read from
    its /metrics, which costs it a Prometheus scrape: read ``every`` 2 s, not 5 times a
    second (at 0.2 s the scrapes took as much of the worker as its input did)."""
    first_t = first_n = None
    last_t, last_n = 0.0, 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            n = count()
        except OSError:
            n = 0
        now = time.monotonic()
        if n and first_t is None:
            first_t, first_n = now, n
        if n != last_n:
            last_t, last_n = now, n
        if n >= total and first_t is not None and first_n is not None and now - last_t >= settle and done():
            span = last_t - first_t
            return ((n - first_n) / span if span > 0 else float("nan")), n
        time.sleep(every)
    raise TimeoutError(f"only {count()}/{total} processed")


async def raw_aiokafka(topics: list[str], total: int) -> float:
    from aiokafka import AIOKafkaConsumer

    from streams.validation import decode_event

    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=BOOT,
        auto_offset_reset="earliest",
        group_id=f"raw-{uuid.uuid4().hex[:6]}",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen, start = 0, None
    try:
        while seen < total:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for records in batch.values():
                if start is None:
                    start = time.perf_counter()
                for record in records:
                    decode_event(record.value, now=dt.datetime.now(dt.UTC))
                seen += len(records)
    finally:
        await consumer.stop()
    return seen / (time.perf_counter() - (start or time.perf_counter()))


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def caught_up(port: int) -> bool:
    """The worker group has committed every record of every topic it reads but the ticks (its
    consumer_lag gauge, refreshed every 15 s): the input, and the alerts its dispatcher reads
    (which trail the input by up to minutes on a large load, and share the worker's one core). A
    pause in the count is not the end of a backlog."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    lags = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("watchkeeper_consumer_lag{") and '.ticks"' not in line
    ]
    return bool(lags) and sum(lags) == 0


def wait_started(log: Path, timeout: float) -> None:
    begin = time.monotonic()
    while "worker ready" not in log.read_text(errors="replace"):
        if time.monotonic() - begin > timeout:
            raise TimeoutError(f"no worker start in {log}")
        time.sleep(0.1)


def wait_ready(port: int, timeout: float) -> float:
    """Seconds until the worker's /readyz says ready: partitions assigned, tables recovered,
    due indexes rebuilt, silences read (what a Kubernetes readiness probe waits for)."""
    begin = time.monotonic()
    while time.monotonic() - begin < timeout:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                if json.loads(answer.read())["ready"]:
                    return time.monotonic() - begin
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"worker on port {port} not ready after {timeout}s")


def end_offsets(topic: str) -> dict[Any, int]:
    """Where each partition of ``topic`` ends now: probes' alerts are read from there."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=BOOT)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return dict(consumer.end_offsets(partitions))
    finally:
        consumer.close()


def probe_lags(topic: str, after: dt.datetime, expected: int, timeout: float, since: dict[Any, int]) -> list[float]:
    """Lags of the probes' breaches whose deadline is at or after ``after``, read from the
    offsets ``since`` (the alerts topic ends before the probes were sent: reading it from the
    start would time this benchmark's own reading of the load's alerts, minutes at 100k)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=BOOT, consumer_timeout_ms=500)
    consumer.assign(list(since))
    for partition, offset in since.items():
        consumer.seek(partition, offset)
    lags: dict[str, float] = {}
    end = time.monotonic() + timeout
    while time.monotonic() < end and len(lags) < expected:
        for record in consumer:
            alert = json.loads(record.value)
            probe_breach = alert["rule_id"] == PROBE_RULE and alert["stage"] == "breach" and alert["area"] == "PROBE"
            if probe_breach and alert["status"] == "firing" and dt.datetime.fromisoformat(alert["deadline"]) >= after:
                lags[alert["alert_id"]] = (
                    dt.datetime.fromisoformat(alert["raised_at"]) - dt.datetime.fromisoformat(alert["deadline"])
                ).total_seconds()
    consumer.close()
    return sorted(lags.values())


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main() -> None:
    # long: a benchmark reads top to bottom as its procedure: load, three runs, probes, restart, report.
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--profile", default="large")
    parser.add_argument("--days", type=int, default=60)
    args = parser.parse_args()

    if "WATCHKEEPER_BOOTSTRAP_SERVERS" not in os.environ:
        subprocess.run([str(REPO / "deploy" / "kafka" / "broker.sh"), "start"], check=True)  # no-op if running

    prefix = f"bench{uuid.uuid4().hex[:6]}"
    tmp = Path(tempfile.mkdtemp(prefix="wk-bench-"))
    env = {
        **os.environ,
        "WATCHKEEPER_BOOTSTRAP_SERVERS": BOOT,
        "WATCHKEEPER_TOPIC_PREFIX": prefix,
        "WATCHKEEPER_PARTITIONS": str(args.partitions),
        "WATCHKEEPER_RECOVERY_DELAY_SECONDS": "0.2",
        "WATCHKEEPER_DATA_DIR": str(tmp / "data"),
        "WATCHKEEPER_LOG_LEVEL": "info",
        "WATCHKEEPER_CONSOLE": "off",  # the console's read model decodes every case: not what (b) measures
    }
    env.pop("WATCHKEEPER_POLICY", None)  # the shipped packs
    base_port, worker_port = free_port(), free_port()
    env["WATCHKEEPER_WEB_PORT"] = str(worker_port)
    settings = Settings.from_env(env)
    ensure_topics(settings)
    topics = [input_topic(settings, domain) for domain in DOMAINS]
    t = time.monotonic()
    total, cases = produce_mix(settings, args.cases, args.profile, args.days)
    print(
        f"produced {total:,} events of {cases:,} cases ({args.profile} profile, the mix's first day) "
        f"in {time.monotonic() - t:.1f}s ({args.partitions} partitions per domain); shipped packs"
    )

    raw = asyncio.run(raw_aiokafka(topics, total))
    print(f"a. raw aiokafka consumer, decode only: {raw:,.0f} events/s")

    base_app = f"{prefix}-faust-baseline"
    base = start(
        [sys.executable, "bench/baseline_faust.py", "worker", "-l", "warn"],
        {**env, "BASELINE_APP": base_app, "BASELINE_TOPIC": ",".join(topics), "BASELINE_WEB_PORT": str(base_port)},
        tmp / "baseline.log",
    )
    try:
        faust_rate, _ = watch_progress(lambda: processed_faust(base_port), total, timeout=3600)
    finally:
        base.send_signal(signal.SIGTERM)
        base.wait(timeout=60)
    print(f"b. plain Faust agent, decode only:      {faust_rate:,.0f} events/s")

    log = tmp / "worker-0.log"
    worker = start([sys.executable, "-m", "watchkeeper", "worker"], env, log)
    wait_started(log, 120)  # not /readyz: by the time it says ready, the worker is well into the load
    rss_idle = rss_mb(worker.pid)
    wk_rate, counted = watch_progress(
        lambda: processed_watchkeeper(worker_port),
        total,
        timeout=7200,
        settle=6.0,
        every=2.0,
        done=lambda: caught_up(worker_port),
    )
    rss_loaded = rss_mb(worker.pid)
    print(
        f"c. Watchkeeper worker, shipped packs:   {wk_rate:,.0f} events/s "
        f"({wk_rate / faust_rate:.2f}x the plain Faust agent, {wk_rate / raw:.2f}x raw aiokafka; "
        f"{counted - total:,} re-published records counted too)"
    )
    print(
        f"   memory per case held: {(rss_loaded - rss_idle) * 1024 * 1024 / cases:,.0f} bytes "
        f"(RSS {rss_idle:.0f} -> {rss_loaded:.0f} MB for {cases:,} cases; {settings.store})"
    )

    since = end_offsets(f"{prefix}.alerts")
    after = produce_probes(settings, "P", args.probes, due_in=20)
    lags = probe_lags(f"{prefix}.alerts", after - dt.timedelta(seconds=1), args.probes, timeout=180, since=since)
    print(
        f"   deadline-to-alert lag, {len(lags)} probes with the load's cases held: "
        f"p50 {pct(lags, 0.5):.2f}s, p99 {pct(lags, 0.99):.2f}s, max {max(lags, default=float('nan')):.2f}s"
    )

    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=120)
    log2 = tmp / "worker-1.log"
    begin = time.monotonic()
    port2 = free_port()
    worker2 = start([sys.executable, "-m", "watchkeeper", "worker"], {**env, "WATCHKEEPER_WEB_PORT": str(port2)}, log2)
    try:
        ready = wait_ready(port2, 1800)
        since = end_offsets(f"{prefix}.alerts")
        after = produce_probes(settings, "R", 20, due_in=20)
        probe_lags(f"{prefix}.alerts", after - dt.timedelta(seconds=1), 20, timeout=1800, since=since)
        recovered = time.monotonic() - begin
        rebuilds = [line for line in log2.read_text().splitlines() if "open deadlines indexed" in line]
        print(
            f"   recovery with {cases:,} cases held: worker ready after {ready:.1f}s; "
            f"first alert after restart at {recovered:.1f}s (includes the 20 s probe deadline); "
            f"index rebuilds: {'; '.join(line.split('] ')[-1] for line in rebuilds[:8])}"
        )
    finally:
        worker2.send_signal(signal.SIGTERM)
        worker2.wait(timeout=120)

    # A worker that has never held these partitions (no local RocksDB): its tables come from
    # the changelog topics alone, as when a worker takes over from one that is gone.
    log3 = tmp / "worker-2.log"
    begin = time.monotonic()
    port3 = free_port()
    fresh = {**env, "WATCHKEEPER_WEB_PORT": str(port3), "WATCHKEEPER_DATA_DIR": str(tmp / "data-fresh")}
    worker3 = start([sys.executable, "-m", "watchkeeper", "worker"], fresh, log3)
    try:
        ready = wait_ready(port3, 3600)
        print(
            f"   takeover from the changelog alone ({cases:,} cases, {args.partitions} partitions per domain, "
            f"{settings.store}): worker ready after {ready:.1f}s"
        )
    finally:
        worker3.send_signal(signal.SIGTERM)
        worker3.wait(timeout=120)


if __name__ == "__main__":
    main()
