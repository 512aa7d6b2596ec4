"""The deadline engine: pure functions from a case's events and the time to alerts.

No Faust, no Kafka, no clock reads: ``now`` always comes in as a parameter, so the same code
serves the live worker, ``watchkeeper replay`` and the tests, which move time at will.

A case holds its events (sorted by event time), the facts merged from their data, and one
clock per rule. Each clock has *cycles*: one deadline each, with stages (warnings, then the
breach) at fixed times. A chain moves to its next cycle on each compliant action; a limit
moves to a new cycle when an authorised extension moves its deadline.

Six modules, one job each:

- ``state``: the case, and how a person reads it (running clocks, area, child);
- ``store``: the case as the tables hold it, compressed; ``format1``: cases stored in the
  first format, upgraded as they are read;
- ``decide``: apply an event, let time run, rebuild a case a late record changes;
- ``emit``: diff what is justified against the ledger of what was said, and say it;
- ``wording``: the words of every alert, in London local time.

Elapsed time is UTC arithmetic: 72 h is 72 real hours whatever London's clocks do. Only
rules with a calendar ``deadline`` consult the calendar.
"""

from agents.engine.decide import Outcome, event_digest, event_identity, next_due, process_event, replay_case, tick
from agents.engine.state import (
    CASE_DECODER,
    CASE_ENCODER,
    CaseState,
    RunningClock,
    StoredEvent,
    alert_id_of,
    area_of,
    child_of,
    new_case,
    running_clocks,
    stage_key,
)
from agents.engine.store import decode_case_state, encode_case_state
from agents.engine.wording import event_detail, local_time

__all__ = [
    "CASE_DECODER",
    "CASE_ENCODER",
    "CaseState",
    "Outcome",
    "RunningClock",
    "StoredEvent",
    "alert_id_of",
    "area_of",
    "child_of",
    "decode_case_state",
    "encode_case_state",
    "event_detail",
    "event_digest",
    "event_identity",
    "local_time",
    "new_case",
    "next_due",
    "process_event",
    "replay_case",
    "running_clocks",
    "stage_key",
    "tick",
]
