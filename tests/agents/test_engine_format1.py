"""Cases stored in the first format (a map, alert ids written out) still decode, and carry on
exactly as the engine of that time carried them on.

``fixtures/cases-format-1.json`` was made at commit 2e6a3b2: a simulated small force's
fortnight across the spring clock change (seed 3), each case run to half its records and
stored, then the rest of its records applied, with ticks, and three days more, and the
alerts that gave written down. Here the stored bytes are read by today's engine and the
same records applied: the alerts (id, revision, status, stage, rule) must be the same.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from agents.alert import Alert
from agents.engine import CaseState, decode_case_state, encode_case_state, next_due, process_event, tick
from agents.engine.store import ZSTD_MAGIC
from agents.policy import Policy, load_policy
from streams.contract import Event
from streams.validation import decode_event

FIXTURE = Path(__file__).parent / "fixtures" / "cases-format-1.json"
CASES: list[dict[str, Any]] = json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def carry_on(state: CaseState, records: list[dict[str, Any]], policy: Policy) -> list[Alert]:
    """As the fixture was made: each record at its recording time, ticks between, three days more."""
    events = []
    for record in records:
        event = decode_event(msgspec.json.encode(record), now=dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
        assert isinstance(event, Event), event
        events.append(event)
    alerts: list[Alert] = []
    for event in events:
        while (when := next_due(state)) is not None and when <= event.recordedtime:
            alerts += tick(state, policy, when)
        alerts += process_event(state, event, policy, event.recordedtime).alerts
    end = events[-1].recordedtime + dt.timedelta(days=3)
    while (when := next_due(state)) is not None and when <= end:
        alerts += tick(state, policy, when)
    return alerts


def test_the_fixture_covers_every_domain_and_alerts_said_before_it_was_stored() -> None:
    assert {c["case"][:2] for c in CASES} >= {"CR", "MP", "PP", "IN"}
    assert sum(len(c["alerts"]) for c in CASES) > 50
    assert any(a[2] == "retracted" for c in CASES for a in c["alerts"])


@pytest.mark.parametrize("stored", CASES, ids=[c["case"] for c in CASES])
def test_a_case_stored_in_the_first_format_carries_on_as_it_would_have(stored: dict[str, Any], policy: Policy) -> None:
    raw = base64.b64decode(stored["stored"])
    assert raw[0] & 0xF0 == 0x80, "stored as a map, the first format"
    state = decode_case_state(raw)
    alerts = carry_on(state, stored["rest"], policy)
    assert [[a.alert_id, a.revision, a.status, a.stage_name, a.rule_id] for a in alerts] == stored["alerts"]


@pytest.mark.parametrize("stored", CASES[:5], ids=[c["case"] for c in CASES[:5]])
def test_an_upgraded_case_is_stored_in_the_current_format_and_reads_back_the_same(stored: dict[str, Any]) -> None:
    state = decode_case_state(base64.b64decode(stored["stored"]))
    compact = encode_case_state(state)
    assert compact[:4] == ZSTD_MAGIC, "stored compressed"
    assert len(compact) < len(base64.b64decode(stored["stored"]))
    assert decode_case_state(compact) == state
