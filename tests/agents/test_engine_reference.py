"""The engine says exactly what the reference engine said, alert for alert, on a simulated force.

Speed work changes how the engine stores and walks a case, never what it says. The
reference (``fixtures/reference-alerts.txt.gz``) is the replay of a small force's 20 days
(seed 11, across the autumn clock change) through the engine at commit 2e6a3b2, before the
compact format: each alert's id, revision, status, case, rule, stage, when it was raised
and a digest of its reason. A deliberate change of behaviour rewrites it:
``python -m tests.agents.test_engine_reference --write``, and the diff is read in review.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import sys
from pathlib import Path

import msgspec

from agents.policy import load_policy
from agents.replay import replay
from streams.contract import Event
from streams.simulate import load_profile, simulate
from streams.validation import decode_event

REFERENCE = Path(__file__).parent / "fixtures" / "reference-alerts.txt.gz"
START = dt.datetime(2026, 10, 12, tzinfo=dt.UTC)
DAYS = 20


def alert_lines() -> list[str]:
    events = []
    for record in simulate(load_profile("small"), DAYS, 11, START):
        event = decode_event(msgspec.json.encode(record), now=START + dt.timedelta(days=DAYS + 1))
        assert isinstance(event, Event), event
        events.append(event)
    alerts = replay(events, load_policy(), until=START + dt.timedelta(days=DAYS + 4))
    return [
        f"{a.alert_id} {a.revision} {a.status} {a.case} {a.rule_id} {a.stage_name} {a.raised_at.isoformat()} "
        f"{hashlib.sha256(a.reason.encode()).hexdigest()[:12]}"
        for a in alerts
    ]


def test_the_engine_says_what_the_reference_engine_said_on_a_simulated_force() -> None:
    expected = gzip.decompress(REFERENCE.read_bytes()).decode().splitlines()
    actual = alert_lines()
    assert len(expected) > 1000, "the reference covers a force's worth of alerts"
    first = next((i for i, (a, b) in enumerate(zip(actual, expected, strict=False)) if a != b), None)
    assert first is None and len(actual) == len(expected), (
        f"alert {first} differs: {actual[first] if first is not None else len(actual)} "
        f"!= {expected[first] if first is not None else len(expected)}"
    )


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    REFERENCE.write_bytes(gzip.compress(("\n".join(alert_lines()) + "\n").encode(), mtime=0))
