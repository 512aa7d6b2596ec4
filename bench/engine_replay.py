"""Benchmark (a): the engine replaying a realistic mix, shipped policy packs, a million cases.

    python bench/engine_replay.py [--cases 1000000] [--profile large] [--days 60]

The mix (bench/mix.py) is a simulated force's cases folded onto one day and copied to
``--cases`` cases. Phase 1 is every record entered on that day: every case opens, clocks
start, warnings and breaches fall due and are raised. Phase 2 is the rest of the records,
with every case held. Both are replayed by ``agents.replay.Replay`` with the shipped packs,
as ``watchkeeper replay``, reports and backtests use it; events are built a chunk at a time
outside the timed part.

Reports, for each phase, events/s and alerts raised; resident memory per case held (RSS
growth over the run / cases, at the end of each phase); and the encoded size of an open
custody case as the worker's table stores it (compressed) and of its msgpack (medians over
custody cases with a clock still running at the end of phase 1).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import resource
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mix

from agents.engine import CASE_ENCODER, decode_case_state, encode_case_state
from agents.policy import load_policy
from agents.replay import Replay
from streams.contract import Event
from watchkeeper.cli import tune_collector


def rss_mb() -> float:
    """Current resident set, from /proc (ru_maxrss is the peak, which the chunks inflate)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_phase(run: Replay, source: Iterator[Event]) -> tuple[int, int, float]:
    events = alerts = 0
    seconds = 0.0
    for chunk in mix.chunks(source):
        start = time.perf_counter()
        for event in chunk:
            for _ in run.feed(event, event.recordedtime):
                alerts += 1
        seconds += time.perf_counter() - start
        events += len(chunk)
        del chunk
    return events, alerts, seconds


def open_custody_sizes(run: Replay) -> tuple[list[int], list[int]]:
    """As the worker's table stores them (compressed), and their msgpack before compression.
    Cases held as stored are decoded one at a time, so the sample does not grow the process."""
    stored, plain = [], []
    decoded = ((name, decode_case_state(raw)) for name, raw in run.stored.items())
    for name, state in itertools.chain(run.cases.items(), decoded):
        if name.startswith("CR-") and any(c.live for c in state.clocks.values()):
            stored.append(len(encode_case_state(state)))
            plain.append(len(CASE_ENCODER.encode(state)))
    return stored, plain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--profile", default="large")
    parser.add_argument("--days", type=int, default=60, help="simulated period; cases start in its first half")
    parser.add_argument(
        "--decoded-cases",
        type=int,
        default=None,
        help="hold this many cases decoded and the rest as stored (Replay.decoded_cases); default: all decoded",
    )
    args = parser.parse_args()
    policy = load_policy()
    source = mix.build(args.profile, args.days)
    copies = source.copies_for(args.cases)
    tune_collector()  # as the watchkeeper command does
    gc.collect()
    gc.freeze()  # the templates are not part of what is measured
    run = Replay(policy, decoded_cases=args.decoded_cases)
    before = rss_mb()
    print(
        f"mix: {args.profile} profile, {source.cases} simulated cases x {copies} copies; "
        f"shipped packs ({len(policy.rules)} rules); python {sys.version.split()[0]}; "
        f"cases held decoded: {args.decoded_cases or 'all'}"
    )
    for number in (1, 2):
        events, alerts, seconds = run_phase(run, source.phase(number, copies))
        held = run.held()
        print(
            f"phase {number} ({'every case opens' if number == 1 else 'every case held'}): "
            f"{events:,} events in {seconds:.1f} s = {events / seconds:,.0f} events/s; {alerts:,} alerts; "
            f"{held:,} cases held, {run.open_deadlines():,} with a deadline pending"
        )
        print(f"  memory: {(rss_mb() - before) * 1024 * 1024 / held:,.0f} bytes of RSS per case held")
        if number == 1:
            sizes, plain = open_custody_sizes(run)
            print(
                f"  encoded open custody case, as stored: median {statistics.median(sizes):,.0f} bytes, "
                f"max {max(sizes):,} ({len(sizes):,} open custody cases); "
                f"its msgpack: median {statistics.median(plain):,.0f} bytes"
            )
    print(f"rebuilds (late records): {run.rebuilds:,}; late entries: {run.late_entries:,}")


if __name__ == "__main__":
    main()
