"""A known history on the record topics, and the export it must give (tests of
``watchkeeper audit export``, pure and on the real broker)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from agents.alert import ALERT_ENCODER
from alerts.audit import CaseViewed
from alerts.lifecycle import Transition
from alerts.messages import COMMAND_ENCODER, AckCommand, Receipt
from alerts.silence import SilenceRequest, created, new_silence
from tests.alerts.helpers import alert

T = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC)
M = dt.timedelta(minutes=1)
NORTH = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
SOUTH = "0c9e6679-7425-40de-944b-e07fc1f90ae7"
EARLY = "1c9e6679-7425-40de-944b-e07fc1f90ae7"
JSON = msgspec.json.Encoder()


def history() -> list[tuple[str, bytes, bytes]]:
    """(source, key, value) in the order they were written: a breach in SUITE-NORTH raised,
    held by a silence, released, acknowledged, delivered (a failed try first), then closed; a
    case view; a breach in SUITE-SOUTH; one the day before; a heartbeat receipt."""
    north = alert(alert_id=NORTH, case="CR-N", area="SUITE-NORTH", raised_at=T, reason="AA late")
    silence = new_silence(SilenceRequest("outage", areas=("SUITE-NORTH",), duration="30m"), "admin-1", T - M, "a" * 32)
    closed = msgspec.structs.replace(north, revision=2, status="closed", raised_at=T + 40 * M, reason="AA arrived")
    south = alert(alert_id=SOUTH, case="CR-S", area="SUITE-SOUTH", raised_at=T + 5 * M, reason="AA late")
    early = alert(alert_id=EARLY, case="CR-E", area="SUITE-NORTH", raised_at=T - 24 * 60 * M, reason="old")
    return [
        ("alerts", EARLY.encode(), ALERT_ENCODER.encode(early)),
        ("audit", b"silence:" + b"a" * 32, JSON.encode(created(silence))),
        ("alerts", NORTH.encode(), ALERT_ENCODER.encode(north)),
        ("audit", NORTH.encode(), JSON.encode(Transition(NORTH, "raised", T, "watchkeeper", "breach raised", 1))),
        (
            "audit",
            NORTH.encode(),
            JSON.encode(Transition(NORTH, "raised", T, "watchkeeper", "held", 1, "held", "a" * 32)),
        ),
        ("alerts", SOUTH.encode(), ALERT_ENCODER.encode(south)),
        (
            "audit",
            NORTH.encode(),
            JSON.encode(Transition(NORTH, "raised", T + 29 * M, "watchkeeper", "released", 1, "released", "a" * 32)),
        ),
        ("deliveries", b"x", JSON.encode(Receipt(f"{NORTH}.r0t0.pager", "pager", 1, T + 29 * M, 503, "retry"))),
        ("deliveries", b"x", JSON.encode(Receipt(f"{NORTH}.r0t0.pager", "pager", 2, T + 30 * M, 204, "delivered"))),
        (
            "deliveries",
            b"h",
            JSON.encode(Receipt("heartbeat.host:1.1.pager", "pager", 1, T + 30 * M, 204, "delivered")),
        ),
        (
            "commands",
            NORTH.encode(),
            COMMAND_ENCODER.encode(AckCommand(NORTH, "insp-1", "console: chasing", T + 31 * M)),
        ),
        (
            "audit",
            NORTH.encode(),
            JSON.encode(Transition(NORTH, "acknowledged", T + 31 * M, "insp-1", "acknowledged (console)", 1)),
        ),
        ("audit", b"view:CR-N", JSON.encode(CaseViewed("CR-N", "insp-1", "inspector", T + 32 * M))),
        ("alerts", NORTH.encode(), ALERT_ENCODER.encode(closed)),
        ("audit", NORTH.encode(), JSON.encode(Transition(NORTH, "closed", T + 40 * M, "watchkeeper", "AA arrived", 2))),
    ]


RULE = "custody.appropriate_adult.arrival"
N = {"alert_id": NORTH, "case": "CR-N", "area": "SUITE-NORTH", "rule_id": RULE, "stage": "breach"}


def expected_north() -> list[dict[str, Any]]:
    """The export of the day of the history, for SUITE-NORTH: every row, exactly."""
    at = lambda minutes: (T + minutes * M).isoformat().replace("+00:00", "Z")  # noqa: E731
    window = "areas SUITE-NORTH; from 2026-11-21T09:59:00+00:00 to 2026-11-21T10:29:00+00:00"
    return [
        {"kind": "silence", "at": at(-1), "status": "created", "by": "admin-1", "silence_id": "a" * 32,
         "reason": f"{window}: holds the notifications of alerts matching areas SUITE-NORTH from Sat 21 Nov 2026 "
         "09:59:00 GMT to Sat 21 Nov 2026 10:29:00 GMT: outage"},
        {"kind": "alert", "at": at(0), **N, "status": "firing", "revision": 1, "reason": "AA late"},
        {"kind": "transition", "at": at(0), **N, "status": "raised", "revision": 1, "by": "watchkeeper",
         "reason": "breach raised"},
        {"kind": "transition", "at": at(0), **N, "status": "held", "revision": 1, "by": "watchkeeper",
         "reason": "held", "silence_id": "a" * 32},
        {"kind": "transition", "at": at(29), **N, "status": "released", "revision": 1, "by": "watchkeeper",
         "reason": "released", "silence_id": "a" * 32},
        {"kind": "delivery", "at": at(29), **N, "status": "retry", "receiver": "pager", "attempt": 1,
         "http_status": 503},
        {"kind": "delivery", "at": at(30), **N, "status": "delivered", "receiver": "pager", "attempt": 2,
         "http_status": 204},
        {"kind": "transition", "at": at(31), **N, "status": "acknowledged", "revision": 1, "by": "insp-1",
         "reason": "acknowledged (console)"},
        {"kind": "acknowledgement", "at": at(31), **N, "by": "insp-1", "reason": "console: chasing"},
        {"kind": "case_view", "at": at(32), "case": "CR-N", "area": "SUITE-NORTH", "status": "inspector",
         "by": "insp-1"},
        {"kind": "alert", "at": at(40), **N, "status": "closed", "revision": 2, "reason": "AA arrived"},
        {"kind": "transition", "at": at(40), **N, "status": "closed", "revision": 2, "by": "watchkeeper",
         "reason": "AA arrived"},
    ]  # fmt: skip
