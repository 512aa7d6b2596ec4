"""How cases and alert records are stored in the worker's tables: a 10-byte header, then msgpack.

The header holds the partition and the record's next due time, so that rebuilding a due
index after a restart or rebalance reads 10 bytes per record instead of decoding every one.
At a million open deadlines that is the difference between seconds and minutes of
recovery (docs/performance.md).
"""

from __future__ import annotations

import datetime as dt
import math
import struct
from collections.abc import Iterable, Iterator
from typing import Final

from agents.engine import CaseState, decode_case_state, encode_case_state, next_due
from alerts import lifecycle
from alerts.lifecycle import RECORD_DECODER, RECORD_ENCODER, AlertRecord
from worker.due_index import DueIndex

HEADER: Final = struct.Struct(">hd")
"""partition (int16; -1 = unknown), next due as POSIX seconds (NaN = nothing due)."""

if HEADER.size != 10:  # pragma: no cover - a guard on the struct format, not on data
    raise AssertionError(HEADER.size)


def with_header(partition: int, due: dt.datetime | None, payload: bytes) -> bytes:
    """Any table record indexed by due time (a case, an alert's lifecycle) is stored this way."""
    return HEADER.pack(partition, math.nan if due is None else due.timestamp()) + payload


def payload(raw: bytes) -> memoryview:
    return memoryview(raw)[HEADER.size :]


def index_entries(items: Iterable[tuple[bytes, bytes]]) -> Iterator[tuple[int, bytes, float | None]]:
    """(partition, key, due) of every stored record, for DueIndex.build, headers only."""
    for key, raw in items:
        partition, due = read_header(raw)
        yield partition, key, due


def index_owned(
    index: DueIndex, partition: int, owned: Iterable[int], items: Iterable[tuple[bytes, bytes]]
) -> dict[int, int]:
    """Index ``partition`` and every other owned partition not indexed yet, in one pass over a
    table's stored records (headers only). Returns the open deadlines per partition indexed."""
    wanted = {p for p in owned if not index.is_built(p)} | {partition}
    return index.build(wanted, index_entries(items))


def encode_case(state: CaseState) -> bytes:
    return with_header(state.partition, next_due(state), encode_case_state(state))


def decode_case(raw: bytes) -> CaseState:
    return decode_case_state(payload(raw))


def encode_alert_record(partition: int, record: AlertRecord) -> bytes:
    return with_header(partition, lifecycle.next_due(record), RECORD_ENCODER.encode(record))


def decode_alert_record(raw: bytes) -> AlertRecord:
    return RECORD_DECODER.decode(payload(raw))


def read_header(raw: bytes) -> tuple[int, float | None]:
    """(partition, next due as POSIX seconds or None) without decoding the case."""
    partition, due = HEADER.unpack_from(raw)
    return partition, None if math.isnan(due) else due


def due_datetime(seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC)
