"""Benchmark (b): one Watchkeeper worker on the real broker, against two baselines on the
same events in the same run.

    python bench/worker_broker.py [--cases 100000] [--probes 200]

1. N "load" cases are produced (detention authorised + AA requested = 2N events), each
   opening a 24 h deadline (bench/pack.yaml), so N deadlines stay open.
2. Throughput: the same 2N events consumed by
   a. a raw aiokafka consumer that only decodes them (decode_event),
   b. a plain Faust agent that only decodes them (bench/baseline_faust.py),
   c. a Watchkeeper worker with every rule on, keeping the N deadlines open.
   Events/s is measured from the first processed event to the last (start-up excluded),
   polling each process's own count (/count, /metrics) every 0.2 s.
3. Deadline-to-alert lag: with the N deadlines open, probe cases with a 20 s deadline are
   sent; lag = raised_at - deadline of each probe breach; p50 and p99.
4. Memory per open deadline: the worker's RSS growth over the load, divided by N.
5. Recovery: the worker is stopped and a new one started on the same tables; time from
   process start to the first probe alert after restart, and the index rebuild time.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BOOT = os.environ.get("WATCHKEEPER_BOOTSTRAP_SERVERS", "127.0.0.1:19092")


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


def event(case: str, event_type: str, data: dict[str, object], at: dt.datetime) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "bench",
            "type": event_type,
            "subject": case,
            "time": at.isoformat(),
            "recordedtime": at.isoformat(),
            "data": data,
        }
    ).encode()


def produce(topic: str, cases: list[str], suite: str) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=BOOT, acks=1, linger_ms=20, batch_size=256 * 1024)
    now = dt.datetime.now(dt.UTC)
    for case in cases:
        producer.send(
            topic,
            key=case.encode(),
            value=event(
                case,
                "custody.detention.authorised",
                {"relevant_time": now.isoformat(), "age_years": 15, "custody_suite": suite},
                now,
            ),
        )
        producer.send(topic, key=case.encode(), value=event(case, "custody.appropriate_adult.requested", {}, now))
    producer.flush()
    producer.close()


def processed_faust(port: int) -> int:
    return int(json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/count", timeout=5).read())["processed"])


def processed_watchkeeper(port: int) -> int:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("watchkeeper_events_total{") and 'domain="custody"' in line
        )
    )


def watch_progress(count: Callable[[], int], total: int, timeout: float) -> float:
    """Events/s from the first processed event to the last (start-up excluded)."""
    first_t = first_n = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            n = count()
        except OSError:
            n = 0
        if n and first_t is None:
            first_t, first_n = time.monotonic(), n
        if n >= total and first_t is not None and first_n is not None:
            span = time.monotonic() - first_t
            return (n - first_n) / span if span > 0 else float("nan")
        time.sleep(0.2)
    raise TimeoutError(f"only {count()}/{total} processed")


async def raw_aiokafka(topic: str, total: int) -> float:
    from aiokafka import AIOKafkaConsumer

    from streams.validation import decode_event

    consumer = AIOKafkaConsumer(
        topic,
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


def wait_for(path: Path, text: str, timeout: float) -> float:
    begin = time.monotonic()
    while time.monotonic() - begin < timeout:
        if text in path.read_text(errors="replace"):
            return time.monotonic() - begin
        time.sleep(0.2)
    raise TimeoutError(f"{text!r} not in {path}")


def probe_lags(topic: str, after: dt.datetime, expected: int, timeout: float) -> list[float]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=BOOT, auto_offset_reset="earliest", consumer_timeout_ms=500)
    lags: dict[str, float] = {}
    end = time.monotonic() + timeout
    while time.monotonic() < end and len(lags) < expected:
        for record in consumer:
            alert = json.loads(record.value)
            probe_breach = alert["rule_id"] == "bench.probe" and alert["stage"] == "breach"
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
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--partitions", type=int, default=8)
    args = parser.parse_args()

    from worker.settings import Settings
    from worker.topics import ensure_topics, input_topic

    if "WATCHKEEPER_BOOTSTRAP_SERVERS" not in os.environ:
        subprocess.run([str(REPO / "deploy" / "kafka" / "broker.sh"), "start"], check=True)  # no-op if running

    prefix = f"bench{uuid.uuid4().hex[:6]}"
    tmp = Path(tempfile.mkdtemp(prefix="wk-bench-"))
    env = {
        **os.environ,
        "WATCHKEEPER_BOOTSTRAP_SERVERS": BOOT,
        "WATCHKEEPER_TOPIC_PREFIX": prefix,
        "WATCHKEEPER_PARTITIONS": str(args.partitions),
        "WATCHKEEPER_POLICY": str(REPO / "bench" / "pack.yaml"),
        "WATCHKEEPER_RECOVERY_DELAY_SECONDS": "0.2",
        "WATCHKEEPER_DATA_DIR": str(tmp / "data"),
        "WATCHKEEPER_LOG_LEVEL": "info",
        "WATCHKEEPER_CONSOLE": "off",  # the console's read model decodes every case: not what (b) measures
    }
    base_port, worker_port = free_port(), free_port()
    env["WATCHKEEPER_WEB_PORT"] = str(worker_port)
    settings = Settings.from_env(env)
    ensure_topics(settings)
    topic = input_topic(settings, "custody")
    total = 2 * args.cases
    t = time.monotonic()
    produce(topic, [f"L-{i:07d}" for i in range(args.cases)], "SUITE-L")
    print(f"produced {total} events in {time.monotonic() - t:.1f}s to {topic} ({args.partitions} partitions)")

    raw = asyncio.run(raw_aiokafka(topic, total))
    print(f"a. raw aiokafka consumer, decode only: {raw:,.0f} events/s")

    base_app = f"{prefix}-faust-baseline"
    base = start(
        [sys.executable, "bench/baseline_faust.py", "worker", "-l", "warn"],
        {**env, "BASELINE_APP": base_app, "BASELINE_TOPIC": topic, "BASELINE_WEB_PORT": str(base_port)},
        tmp / "baseline.log",
    )
    try:
        faust_rate = watch_progress(lambda: processed_faust(base_port), total, timeout=3600)
    finally:
        base.send_signal(signal.SIGTERM)
        base.wait(timeout=60)
    print(f"b. plain Faust agent, decode only:      {faust_rate:,.0f} events/s")

    log = tmp / "worker-0.log"
    worker = start([sys.executable, "-m", "watchkeeper", "worker"], env, log)
    wait_for(log, "worker ready", 120)
    rss_idle = rss_mb(worker.pid)
    wk_rate = watch_progress(lambda: processed_watchkeeper(worker_port), total, timeout=3600)
    time.sleep(3)
    rss_loaded = rss_mb(worker.pid)
    print(
        f"c. Watchkeeper worker, every rule on:   {wk_rate:,.0f} events/s "
        f"({wk_rate / faust_rate:.2f}x the plain Faust agent, {wk_rate / raw:.2f}x raw aiokafka)"
    )
    print(
        f"   memory per open deadline: {(rss_loaded - rss_idle) * 1024 * 1024 / args.cases:,.0f} bytes "
        f"(RSS {rss_idle:.0f} -> {rss_loaded:.0f} MB for {args.cases} open deadlines)"
    )

    sent = dt.datetime.now(dt.UTC)
    produce(topic, [f"P-{i:05d}" for i in range(args.probes)], "PROBE")
    lags = probe_lags(f"{prefix}.alerts", sent, args.probes, timeout=120)
    print(
        f"   deadline-to-alert lag, {len(lags)} probes with {args.cases} deadlines open: "
        f"p50 {pct(lags, 0.5):.2f}s, p99 {pct(lags, 0.99):.2f}s, max {max(lags, default=float('nan')):.2f}s"
    )

    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=120)
    log2 = tmp / "worker-1.log"
    begin = time.monotonic()
    sent = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    worker2 = start(
        [sys.executable, "-m", "watchkeeper", "worker"], {**env, "WATCHKEEPER_WEB_PORT": str(free_port())}, log2
    )
    try:
        ready = wait_for(log2, "worker ready", 1800)
        produce(topic, [f"R-{i:05d}" for i in range(20)], "PROBE")
        first = probe_lags(f"{prefix}.alerts", sent, 20, timeout=1800)
        recovered = time.monotonic() - begin
        rebuilds = [line for line in log2.read_text().splitlines() if "open deadlines indexed" in line]
        print(
            f"   recovery with {args.cases} open deadlines: worker ready after {ready:.1f}s; "
            f"first alert after restart at {recovered:.1f}s (includes the 20 s probe deadline); "
            f"index rebuilds: {'; '.join(line.split('] ')[-1] for line in rebuilds[:8])}"
        )
        del first
    finally:
        worker2.send_signal(signal.SIGTERM)
        worker2.wait(timeout=120)


if __name__ == "__main__":
    main()
