"""Benchmark: the alert lifecycle core, as the dispatcher runs it per alert (issue 16, silences).

Raises ``--alerts`` alerts on the example notification policy (deploy/notify/example.yaml,
its routes and escalation ladders), then ticks each one through its ladder, and reports
lifecycle calls (``on_alert`` and ``on_tick``) per second for each silence log:

- ``none``: no silence log (what replay and the code before silences did);
- ``quiet``: a log with 20 active silences that match nothing, and 200 ended this week;
- ``holding``: the same, plus one active silence of 2 hours that holds every alert.

    python bench/lifecycle.py [--alerts 20000] [--repeats 5]

Runs on the code before silences too (it then measures ``none`` only), so one run of each
checkout, alternated, compares them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import inspect
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.alert import Alert
from alerts import lifecycle
from alerts.config import load

T0 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC)
EXAMPLE = Path(__file__).resolve().parents[1] / "deploy" / "notify" / "example.yaml"
ENVIRON = {  # bench keys: the example names its secrets, never holds them
    "WK_ACK_LINK_SECRET": "3f1c9a7e5b2d8c4f6a0e1b3d5c7f9a2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a",
    "WK_SESSION_SECRET": "9b7d5f3a1c8e6b4d2f0a9c7e5b3d1f8a6c4e2b0d9f7a5c3e1b8d6f4a2c0e9b7d",
    "WK_PAGERDUTY_INSPECTORS": "k",
    "WK_WEBHOOK_SECRET_2026": "whsec_YWFh",
    "WK_WEBHOOK_SECRET_2027": "whsec_YmJi",
}


def alerts(n: int) -> list[Alert]:
    base = Alert(
        alert_id="x", revision=1, status="firing", stage="breach", stage_name="breach", severity="high",
        rule_id="custody.appropriate_adult.arrival", rule_version=1, rule_title="AA", legal_basis="Code C",
        local_standard=False, grade="code_of_practice", domain="custody", case="CR", area="SUITE-A",
        clock_started_at=T0, deadline=T0, stage_at=T0, raised_at=T0, overdue_seconds=0.0, target="2h",
        reason="passed", explanation="why", action="act",
    )  # fmt: skip
    suites = [f"SUITE-{i}" for i in range(40)]
    return [msgspec.structs.replace(base, alert_id=f"{i:032x}", case=f"CR-{i}", area=suites[i % 40]) for i in range(n)]


def silence_logs(now: dt.datetime) -> dict[str, Any]:
    if "silences" not in inspect.signature(lifecycle.on_alert).parameters:
        return {"none": None}
    from alerts.silence import SilenceRequest, Silences, new_silence

    def made(i: int, start: dt.datetime, length: str, **match: Any) -> Any:
        return new_silence(SilenceRequest("bench", **match, duration=length), "admin", start, f"{i:032x}")

    quiet = Silences()
    for i in range(20):
        quiet.apply(made(i, now, "4h", areas=(f"OTHER-{i}",)))
    for i in range(20, 220):
        quiet.apply(made(i, now - dt.timedelta(days=3), "1h", areas=("SUITE-A",)))
    holding = Silences(dict(quiet.by_id))
    holding.apply(made(999, now, "2h", rules=("custody.*",)))
    return {"none": None, "quiet": quiet, "holding": holding}


def run(batch: list[Alert], silences: Any, config: Any) -> tuple[float, int]:
    """Seconds to raise every alert, then tick each through its ladder in time order, as the
    dispatcher does (a heap of due times; the clock only goes forward), for six hours. Returns
    the seconds and the calls made (a held alert is looked at again every 30 s while held)."""
    kwargs = {} if silences is None else {"silences": silences}
    started = time.perf_counter()
    due: list[tuple[dt.datetime, int, Any]] = []
    for i, a in enumerate(batch):
        now = T0 + dt.timedelta(milliseconds=i)
        record, _ = lifecycle.on_alert(None, a, config, now, **kwargs)
        assert record is not None
        if (when := lifecycle.next_due(record)) is not None:
            heapq.heappush(due, (when, i, record))
    end, calls = T0 + dt.timedelta(hours=6), len(batch)
    while due and due[0][0] <= end:
        when, i, record = heapq.heappop(due)
        calls += 1
        lifecycle.on_tick(record, when, **kwargs)
        if (again := lifecycle.next_due(record)) is not None:
            heapq.heappush(due, (max(again, when), i, record))
    return time.perf_counter() - started, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    config = load(EXAMPLE, ENVIRON)
    batch = alerts(args.alerts)
    for name, silences in silence_logs(T0).items():
        runs = [run(batch, silences, config) for _ in range(args.repeats)]
        median = statistics.median(seconds for seconds, _ in runs)
        calls = runs[0][1]
        print(f"{name:8} {calls / median:10,.0f} calls/s  {calls:9,} calls  (median of {args.repeats})")


if __name__ == "__main__":
    main()
