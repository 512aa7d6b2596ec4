"""Fuzz the validator: at least 100,000 generated inputs through ``decode_event``, none may raise.

Inputs are valid events of every contract type mutated in the ways issue 11 found and more:
random bytes, truncation, byte flips and inserts, invalid UTF-8, lone surrogates, deep
nesting, huge payloads, extreme and malformed dates, wrong types, missing and extra fields.

    python bench/fuzz_validation.py [--inputs 100000] [--seed 11]

Prints the count of each outcome (accepted, or the rejection reason) and exits 1 on the
first exception, naming the input's index and kind (not the input: it may be anything).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
import typing
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.contract import EVENT_TYPES, Event
from streams.validation import decode_event

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
TIMES = [
    NOW.isoformat(),
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59+00:00",
    "9999-12-31T23:59:59-14:00",
    "1900-01-01T00:00:00Z",
    "2026-13-45T99:99:99Z",
    "2026-11-29T12:00:00",
    "not a time",
    "",
]
WEIRD: list[object] = [None, True, -1, 2**70, 1e308, "", "\ud800", "Zelda Quimby", [], {}, [[[]]], "x" * 300]


def example(annotation: Any) -> Any:
    """A valid value for a contract field's type: the first choice of a Literal, a time, a ref."""
    text = repr(annotation)
    literals = [a for a in typing.get_args(annotation) if typing.get_origin(a) is typing.Literal]
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)[0]
    if literals:
        return typing.get_args(literals[0])[0]
    if "datetime" in text:
        return NOW.isoformat()
    if "bool" in text:
        return True
    if "int" in text:
        return 36 if "ge=24" in text else 15
    return "REF-1"


def valid(rng: random.Random) -> dict[str, Any]:
    event_type = rng.choice(sorted(EVENT_TYPES))
    data = {f.name: example(f.type) for f in msgspec.structs.fields(EVENT_TYPES[event_type])}
    return {
        "specversion": "1.0",
        "id": f"e-{rng.randrange(10**9)}",
        "source": "fuzz",
        "type": event_type,
        "subject": f"CASE-{rng.randrange(1000)}",
        "time": NOW.isoformat(),
        "recordedtime": NOW.isoformat(),
        "data": data,
    }


def mutate(rng: random.Random) -> tuple[str, bytes]:
    event = valid(rng)
    kind = rng.choice(KINDS)
    return kind.__name__, kind(rng, event)


def random_bytes(rng: random.Random, event: dict[str, Any]) -> bytes:
    return rng.randbytes(rng.randrange(0, 512))


def truncated(rng: random.Random, event: dict[str, Any]) -> bytes:
    raw = json.dumps(event).encode()
    return raw[: rng.randrange(len(raw))]


def flipped(rng: random.Random, event: dict[str, Any]) -> bytes:
    raw = bytearray(json.dumps(event).encode())
    for _ in range(rng.randrange(1, 6)):
        raw[rng.randrange(len(raw))] = rng.randrange(256)
    return bytes(raw)


def invalid_utf8(rng: random.Random, event: dict[str, Any]) -> bytes:
    raw = json.dumps(event).encode()
    at = raw.index(b'"fuzz"') + 1
    return raw[:at] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]) + raw[at:]


def deep(rng: random.Random, event: dict[str, Any]) -> bytes:
    n = rng.choice([33, 100, 5000, 40_000])
    opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
    return b'{"data":' + opener * n + b"1" + closer * n + b"}"


def huge(rng: random.Random, event: dict[str, Any]) -> bytes:
    event["data"]["pad"] = "x" * rng.choice([60_000, 70_000, 1_000_000])
    return json.dumps(event).encode()


def odd_times(rng: random.Random, event: dict[str, Any]) -> bytes:
    for name in rng.sample(["time", "recordedtime"], rng.randrange(1, 3)):
        event[name] = rng.choice(TIMES)
    for name in event["data"]:
        if rng.random() < 0.5:
            event["data"][name] = rng.choice(TIMES)
    return json.dumps(event).encode()


def odd_values(rng: random.Random, event: dict[str, Any]) -> bytes:
    for name in rng.sample(sorted(event), rng.randrange(1, 4)):
        event[name] = rng.choice(WEIRD)
    for name in list(event.get("data") or {}) if isinstance(event.get("data"), dict) else []:
        if rng.random() < 0.3:
            event["data"][name] = rng.choice(WEIRD)
    return json.dumps(event).encode()


def missing_and_extra(rng: random.Random, event: dict[str, Any]) -> bytes:
    for name in rng.sample(sorted(event), rng.randrange(0, 3)):
        del event[name]
    event[rng.choice(["name", "dob", "x" * 50, ""])] = rng.choice(WEIRD)
    return json.dumps(event).encode()


def unmodified(rng: random.Random, event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


KINDS: list[Callable[[random.Random, dict[str, Any]], bytes]] = [
    random_bytes,
    truncated,
    flipped,
    invalid_utf8,
    deep,
    huge,
    odd_times,
    odd_values,
    missing_and_extra,
    unmodified,
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    outcomes: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    started = time.perf_counter()
    for index in range(args.inputs):
        kind, raw = mutate(rng)
        kinds[kind] += 1
        try:
            options: dict[str, Any] = {"key": raw[:12]} if rng.random() < 0.1 else {}
            result = decode_event(raw, now=NOW, **options)
        except Exception as exc:  # noqa: BLE001 - any exception at all is the finding: decode_event must never raise
            print(f"input {index} ({kind}) raised {type(exc).__name__}", file=sys.stderr)
            return 1
        outcomes["accepted" if isinstance(result, Event) else result.reason] += 1
    elapsed = time.perf_counter() - started
    print(f"{args.inputs} inputs (seed {args.seed}) in {elapsed:.1f} s: no exception")
    print("kinds:   " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    print("outcomes: " + ", ".join(f"{k} {n}" for k, n in outcomes.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
