"""Stall guard: re-read records that Faust fetched but never handed to a stream.

Why this exists: in faust-streaming 0.15.3, records can be fetched from Kafka and handed to
a stream's queue (Faust's read offset moves past them), then discarded before the agent
sees them: flow control clears the stream queues when it resumes after a rebalance
(upstream #253), and ``Consumer.getmany`` drops the rest of a fetched batch when the
generation changes mid-batch (#234; #256 re-seeks only on one of those paths). Nothing
seeks back, so the records are neither processed nor acknowledged, and the partition's
committed offset stops while newer records (and the same partition's ticks) flow on. We
reproduced it with kill -9 during a burst of input (tests/integration/
test_crash_and_rebalance.py): those children's clocks never started until the next
rebalance. For a compliance monitor that is a miss.

The same drop has a second face: when a later record of the partition does arrive, Faust
records the skipped offsets as a "gap" and treats them as acknowledged (meant for compacted
topics and transaction markers), so the committed offset jumps across records nobody
processed. On Watchkeeper's internal topics (alerts, acknowledgements, outbox, ticks), which
only Watchkeeper writes, without compaction or transactions, a gap is never legitimate:
``refuse_gaps`` makes Faust keep them unacknowledged, so the commit stays behind them and
the guard below re-reads them. (Input topics keep Faust's behaviour: a force's producer may
use transactions, whose markers are real gaps; docs/design.md.)

The guard checks every few seconds, for each assigned partition of Watchkeeper's own
stream topics. A partition is stuck when the broker holds records at or after its committed
offset and the committed offset has not moved for ``STALL_CHECKS`` checks in a row while
flow is active (records delivered but never acknowledged, records never delivered, or a
refused gap). It then seeks the partition back to its committed offset through Faust's own
seek. After a restart, Faust's read offset is the *next* offset to read; an idle partition
whose commit is at the broker's end is therefore never "stuck". Re-delivery is harmless:
the engine drops repeated events, ticks are idempotent, the dispatcher drops repeated alert
revisions, and receivers drop a repeated webhook-id. Each repair is logged and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any, Final

from prometheus_client import Counter

log = logging.getLogger(__name__)
STALL_CHECKS: Final = 3
GAPS_REFUSED: Final = Counter(
    "watchkeeper_offset_gaps_refused_total",
    "Skipped offsets on an internal topic that Faust would have treated as processed, by topic.",
    ["topic"],
)
NO_GAP_TOPICS: set[str] = set()
"""Internal topics on which an offset gap means dropped records (filled in by the wiring)."""
_faust_add_gap: Any = None


def refuse_gaps(topics: Collection[str]) -> None:
    """Make Faust's consumer keep gaps on ``topics`` unacknowledged (see the module docstring).

    Replaces ``Consumer._add_gap`` (faust-streaming 0.15.3, faust/transport/consumer.py), the
    one place gaps are recorded; other topics keep Faust's behaviour."""
    global _faust_add_gap
    from faust.transport.consumer import Consumer

    NO_GAP_TOPICS.update(topics)
    if _faust_add_gap is not None:
        return
    _faust_add_gap = Consumer._add_gap

    async def add_gap(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
        if tp.topic in NO_GAP_TOPICS:
            GAPS_REFUSED.labels(tp.topic).inc()
            log.warning(
                "%s[%d]: offsets %d-%d were skipped; they stay unprocessed until re-read",
                tp.topic,
                tp.partition,
                offset_from,
                offset_to - 1,
            )
            return
        await _faust_add_gap(self, tp, offset_from, offset_to)

    Consumer._add_gap = add_gap  # type: ignore[method-assign]


REPAIRS: Final = Counter(
    "watchkeeper_stalled_partitions_repaired_total",
    "Partitions whose fetched records never reached a stream, re-read by the stall guard.",
    ["topic"],
)


class StallGuard:
    def __init__(self, topics: Collection[str]) -> None:
        self.topics = topics
        """Kept by reference: agents registered later (streams/ticks.py) are watched too."""
        self._last: dict[Any, tuple[int | None, int | None]] = {}
        self._still: dict[Any, int] = {}

    def stalled(self, tp: Any, delivered: int | None, committed: int | None, highwater: int | None) -> bool:
        """Pure decision. ``delivered``: Faust's read offset (informational); ``committed``:
        next offset to read after the last commit; ``highwater``: next offset the broker
        will write. Only the commit is evidence of processing: delivery can move on past
        records that were dropped."""
        next_committed = committed if committed is not None else 0
        behind = highwater is not None and highwater > next_committed
        moved = self._last.get(tp, (None, committed))[1] != committed
        self._last[tp] = (delivered, committed)
        self._still[tp] = 0 if (moved or not behind) else self._still.get(tp, 0) + 1
        return self._still[tp] >= STALL_CHECKS

    async def check(self, app: Any) -> None:
        consumer = app.consumer
        if app.rebalancing or not consumer.flow_active:
            self._still.clear()
            return
        read_offset = consumer._read_offset  # last offset handed to a stream, per partition
        committed_offset = consumer._committed_offset  # next offset to read after the last commit
        for tp in consumer.assignment():
            if tp.topic not in self.topics:
                continue
            try:
                highwater = consumer.highwater(tp)
            except Exception:  # not yet known right after an assignment
                continue
            delivered, committed = read_offset.get(tp), committed_offset.get(tp)
            if self.stalled(tp, delivered, committed, highwater):
                resume_at = committed if committed is not None else 0
                log.warning(
                    "stall guard: %s[%d] delivered to %s, committed %s, broker at %s: re-reading from %d",
                    tp.topic,
                    tp.partition,
                    delivered,
                    committed,
                    highwater,
                    resume_at,
                )
                await consumer.seek(tp, resume_at)
                REPAIRS.labels(tp.topic).inc()
                self._still[tp] = 0
