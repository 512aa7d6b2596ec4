"""Train the zstd dictionary that stored cases are compressed with (``agents/engine/store.py``).

    python -m devtools.case_dictionary [--profile medium] [--seed 11] [--days 60]

A case's msgpack is mostly the same words in every case (event types, field names, rule ids,
stage names, the shape of a clock), which a general compressor cannot learn from one 4 KB
record but a shared dictionary holds once. The samples are every case as stored after each
record of a simulated force's two months, replayed with the shipped packs, so the dictionary sees
cases at every point of their life. The benchmarks measure on another profile and seed
(large, seed 1), so the figures are not those of the cases it was trained on.

A trained dictionary is never replaced in place: cases stored with it must stay readable.
Retraining writes a new file under the dictionary's own id; ``store.py`` reads every shipped
file and compresses with the newest (``CURRENT``).
"""

from __future__ import annotations

import argparse
import datetime as dt

import msgspec
import zstandard

from agents.engine import store
from agents.engine.state import CASE_ENCODER
from agents.policy import load_policy
from agents.replay import Replay
from streams.contract import Event
from streams.simulate import load_profile, simulate
from streams.validation import decode_event

START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)


def samples(profile: str, seed: int, days: int, every: int = 2) -> list[bytes | bytearray | memoryview]:
    policy = load_policy()
    run = Replay(policy)
    out: list[bytes | bytearray | memoryview] = []
    raw = simulate(load_profile(profile), days, seed, START)
    now = START + dt.timedelta(days=days + 1)
    for n, item in enumerate(raw):
        event = decode_event(msgspec.json.encode(item), now=now)
        assert isinstance(event, Event), event
        for _ in run.feed(event, event.recordedtime):
            pass
        if n % every == 0 and event.subject in run.cases:
            out.append(CASE_ENCODER.encode(run.cases[event.subject]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="medium")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--size", type=int, default=32 * 1024, help="dictionary size in bytes")
    args = parser.parse_args()
    trained = zstandard.train_dictionary(args.size, samples(args.profile, args.seed, args.days))
    path = store.DICTIONARIES / f"case-{trained.dict_id()}.zdict"
    path.write_bytes(trained.as_bytes())
    print(
        f"{path}: {len(trained.as_bytes()):,} bytes, id {trained.dict_id()}; set store.CURRENT to {trained.dict_id()}"
    )


if __name__ == "__main__":
    main()
