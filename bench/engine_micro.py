"""Microbenchmark: the engine's cost per event on the simplest custody case, shipped packs.

    python bench/engine_micro.py [--cases 1000000] [--repeats 3]

Explains bench/engine_replay.py (the realistic mix) by isolating one path: no alert falls
due, no late record, no rebuild.

Phase 1 opens one appropriate-adult deadline per case (detention authorised + AA requested:
2 events per case; the target is set to 24 h so none falls due). Phase 2 then feeds one
more event per case while every deadline is still open (an interview, which does not touch
the clock). Events are built before timing starts: this measures the engine and the replay
scheduler only.

Reports events/s per phase (median of repeats for phase 2), resident memory per open
deadline (RSS growth over phase 1 / cases), and the encoded size of one case's state as the
worker's table stores it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.engine import encode_case_state
from agents.policy import load_policy
from agents.replay import Replay
from streams.contract import (
    AppropriateAdultRequested,
    DetentionAuthorised,
    Event,
    InterviewStarted,
)
from watchkeeper.cli import tune_collector

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def events(cases: int, phase: int) -> list[Event]:
    """Pre-built events; all times inside one hour so no deadline (2 h) falls due."""
    out = []
    step = dt.timedelta(seconds=3600 / max(cases, 1))
    for i in range(cases):
        at = T0 + step * i + dt.timedelta(minutes=30 * phase)
        subject = f"CR-{i:07d}"
        if phase == 0:
            out.append(
                Event(
                    f"d{i}",
                    "bench",
                    "custody.detention.authorised",
                    subject,
                    at,
                    at,
                    DetentionAuthorised(relevant_time=at, age_years=15, custody_suite="SUITE-A"),
                )
            )
            out.append(
                Event(
                    f"r{i}",
                    "bench",
                    "custody.appropriate_adult.requested",
                    subject,
                    at,
                    at,
                    AppropriateAdultRequested(),
                )
            )
        else:
            out.append(
                Event(
                    f"i{i}-{phase}",
                    "bench",
                    "custody.interview.started",
                    subject,
                    at,
                    at,
                    InterviewStarted(appropriate_adult_present=True),
                )
            )
    return out


def feed(run: Replay, batch: list[Event]) -> float:
    start = time.perf_counter()
    for event in batch:
        for _ in run.feed(event, event.recordedtime):
            pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as force:
        # a 24 h target keeps every deadline open through all phases (they span 2.5 h)
        # (and the welfare notification, issue 15, whose 30-minute warning would fall in phase 2)
        force.write(
            "force: bench\noverrides:\n  custody.appropriate_adult.arrival:\n    target: 24h\n"
            "  custody.welfare_person.informed:\n    target: 24h\n"
        )
    policy = load_policy(overrides=[force.name])
    opening = events(args.cases, 0)
    tune_collector()  # as the watchkeeper command does
    gc.collect()
    gc.freeze()  # the prebuilt events are not part of what is measured
    run = Replay(policy)
    before = rss_mb()
    seconds = feed(run, opening)
    after = rss_mb()
    assert run.open_deadlines() == args.cases, run.open_deadlines()
    print(f"cases={args.cases} python={sys.version.split()[0]}")
    print(f"phase 1 (open {args.cases} deadlines): {len(opening) / seconds:,.0f} events/s")
    print(
        f"memory per open deadline: {(after - before) * 1024 * 1024 / args.cases:,.0f} bytes of RSS "
        f"(engine state in memory); encoded case state for the table: "
        f"{len(encode_case_state(run.cases['CR-0000000']))} bytes"
    )
    rates = []
    for repeat in range(1, args.repeats + 1):
        batch = events(args.cases, repeat)
        rates.append(len(batch) / feed(run, batch))
        del batch
    assert run.open_deadlines() == args.cases
    print(
        f"phase 2 (with {args.cases} open): median {statistics.median(rates):,.0f} events/s "
        f"over {args.repeats} runs ({', '.join(f'{r:,.0f}' for r in rates)})"
    )


if __name__ == "__main__":
    main()
