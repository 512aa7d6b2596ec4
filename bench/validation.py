"""Validation cost per event: msgspec (what Watchkeeper uses) against pydantic v2, same events.

Both validate the full structured-mode CloudEvent: envelope, a tz-aware datetime for time and
recordedtime, a pattern-checked subject, then the typed data for the event's type, and drop
unknown fields. pydantic gets the same two-step shape (envelope, then data by type) with
models mirroring streams.contract, so the comparison is like for like.

    python bench/validation.py [--events 20000] [--repeats 7]

Prints the median over repeats of microseconds per event for each library, and the ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from streams.contract import REF_PATTERN, Event, Rank
from streams.validation import decode_event

Ref = Annotated[str, StringConstraints(pattern=REF_PATTERN)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PEnvelope(_Model):
    specversion: Literal["1.0"]
    id: Annotated[str, Field(min_length=1, max_length=256)]
    source: Annotated[str, Field(min_length=1, max_length=256)]
    type: Annotated[str, Field(min_length=1, max_length=256)]
    time: AwareDatetime
    recordedtime: AwareDatetime
    subject: Annotated[str, Field(max_length=256)] | None = None
    datacontenttype: Literal["application/json"] | None = None
    data: dict[str, Any] = {}


class PDetentionAuthorised(_Model):
    relevant_time: AwareDatetime
    age_years: Annotated[int, Field(ge=0, le=120)]
    custody_suite: Ref


class PDetentionReviewCompleted(_Model):
    mode: Literal["in_person", "telephone", "video"]
    detainee_awake: bool
    detainee_spoken_to: bool
    reviewer_rank: Rank
    reviewer_ref: Ref | None = None


class PEmpty(_Model):
    pass


P_TYPES: dict[str, type[_Model]] = {
    "custody.detention.authorised": PDetentionAuthorised,
    "custody.detention_review.completed": PDetentionReviewCompleted,
    "custody.appropriate_adult.requested": PEmpty,
}


def pydantic_decode(raw: bytes) -> tuple[PEnvelope, _Model]:
    env = PEnvelope.model_validate_json(raw)
    return env, P_TYPES[env.type].model_validate(env.data)


def sample_events(n: int) -> list[bytes]:
    t0 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC)
    datas = [
        (
            "custody.detention.authorised",
            {"relevant_time": t0.isoformat(), "age_years": 15, "custody_suite": "SUITE-A"},
        ),
        (
            "custody.detention_review.completed",
            {
                "mode": "in_person",
                "detainee_awake": True,
                "detainee_spoken_to": True,
                "reviewer_rank": "inspector",
                "reviewer_ref": "INSP-77",
            },
        ),
        ("custody.appropriate_adult.requested", {}),
    ]
    out = []
    for i in range(n):
        event_type, data = datas[i % len(datas)]
        at = (t0 + dt.timedelta(seconds=i)).isoformat()
        out.append(
            json.dumps(
                {
                    "specversion": "1.0",
                    "id": str(uuid.uuid4()),
                    "source": "bench",
                    "type": event_type,
                    "subject": f"CR-{i % 5000:06d}",
                    "time": at,
                    "recordedtime": at,
                    "data": data,
                    "extra_field": "dropped",
                }
            ).encode()
        )
    return out


def median_us(fn: Any, events: list[bytes], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for raw in events:
            fn(raw)
        times.append((time.perf_counter() - start) / len(events) * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    events = sample_events(args.events)
    now = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
    assert all(isinstance(decode_event(raw, now=now), Event) for raw in events[:3])
    assert all(pydantic_decode(raw) for raw in events[:3])
    m = median_us(lambda raw: decode_event(raw, now=now), events, args.repeats)
    p = median_us(pydantic_decode, events, args.repeats)
    import msgspec
    import pydantic

    print(f"events={args.events} repeats={args.repeats} python={sys.version.split()[0]}")
    print(f"msgspec {msgspec.__version__:>8}: {m:6.2f} us/event (median)")
    print(f"pydantic {pydantic.__version__:>7}: {p:6.2f} us/event (median)")
    print(f"ratio pydantic/msgspec: {p / m:.1f}x")


if __name__ == "__main__":
    main()
