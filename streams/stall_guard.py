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

The guard checks every few seconds, for each assigned partition of Watchkeeper's own
stream topics. A partition is stuck when records were delivered but not acknowledged, or
records wait beyond what was delivered, and neither the delivered nor the committed offset
has moved for ``STALL_CHECKS`` checks in a row while flow is active. It then seeks the
partition back to its committed offset through Faust's own (thread-safe) seek.
Re-delivery is harmless: the engine drops repeated event ids, ticks are idempotent, and
the notifier drops repeated alert revisions. Each repair is logged and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any, Final

from prometheus_client import Counter

log = logging.getLogger(__name__)
STALL_CHECKS: Final = 3
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
        """Pure decision. ``delivered``: last offset handed to the stream; ``committed``: next
        offset to read after the last commit; ``highwater``: next offset the broker will write."""
        last_delivered = delivered if delivered is not None else -1
        next_committed = committed if committed is not None else 0
        unacknowledged = next_committed <= last_delivered
        waiting = highwater is not None and highwater > last_delivered + 1
        progress = (delivered, committed)
        moved = self._last.get(tp, progress) != progress
        self._last[tp] = progress
        self._still[tp] = 0 if (moved or not (unacknowledged or waiting)) else self._still.get(tp, 0) + 1
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
