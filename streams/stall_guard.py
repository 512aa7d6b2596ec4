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
the guard below re-reads them. On input topics a force's producer may use transactions,
whose commit markers are real gaps, so there a gap is first checked (``verify_gaps``): a
separate consumer reads the skipped offsets, and only if it finds no record there does
Faust get to treat them as processed; if it finds records, they were dropped, and the gap
is refused like an internal one (docs/design.md).

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

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any, Final

from prometheus_client import Counter

log = logging.getLogger(__name__)
STALL_CHECKS: Final = 3
GAPS_REFUSED: Final = Counter(
    "watchkeeper_offset_gaps_refused_total",
    "Skipped offsets on an internal topic that Faust would have treated as processed, by topic.",
    ["topic"],
)
GAPS_VERIFIED: Final = Counter(
    "watchkeeper_offset_gaps_verified_total",
    "Skipped offsets on an input topic, checked: 'markers' (no record there; Faust may pass them) or 'dropped'.",
    ["topic", "outcome"],
)
NO_GAP_TOPICS: set[str] = set()
"""Internal topics on which an offset gap means dropped records (filled in by the wiring)."""
VERIFIED_GAP_TOPICS: set[str] = set()
"""Input topics whose gaps are passed to Faust only after ``records_in`` finds no record in them."""
RecordsIn = Callable[[Any, int, int], Awaitable[int]]
"""(partition, first offset, end offset) -> how many records the broker holds in [first, end)."""
_records_in: RecordsIn | None = None
_faust_add_gap: Any = None
_checks: set[asyncio.Task[None]] = set()


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
        # Faust's gap is [offset_from, offset_to], offset_to being the record that just arrived.
        if tp.topic in NO_GAP_TOPICS:
            _refuse(tp, offset_from, offset_to)
            return
        if tp.topic in VERIFIED_GAP_TOPICS and _records_in is not None:
            task = asyncio.ensure_future(_check_gap(self, tp, offset_from, offset_to))
            _checks.add(task)  # held until done: the loop keeps only weak references to tasks
            task.add_done_callback(_checks.discard)
            return
        await _faust_add_gap(self, tp, offset_from, offset_to)

    Consumer._add_gap = add_gap  # type: ignore[method-assign]


def verify_gaps(topics: Collection[str], records_in: RecordsIn) -> None:
    """Let Faust pass a gap on ``topics`` only once ``records_in`` shows nothing was skipped."""
    global _records_in
    _records_in = records_in
    VERIFIED_GAP_TOPICS.update(topics)


def _refuse(tp: Any, offset_from: int, offset_to: int) -> None:
    GAPS_REFUSED.labels(tp.topic).inc()
    log.warning(
        "%s[%d]: offsets %d-%d were skipped; they stay unprocessed until re-read",
        tp.topic,
        tp.partition,
        offset_from,
        offset_to - 1,
    )


async def _check_gap(consumer: Any, tp: Any, offset_from: int, offset_to: int) -> None:
    """Meanwhile the gap holds the commit back, which is safe; an error leaves it refused."""
    assert _records_in is not None
    try:
        skipped = await _records_in(tp, offset_from, offset_to)
    except Exception as exc:
        log.warning("%s[%d]: cannot check skipped offsets (%s)", tp.topic, tp.partition, type(exc).__name__)
        skipped = -1
    if skipped == 0:
        GAPS_VERIFIED.labels(tp.topic, "markers").inc()
        await _faust_add_gap(consumer, tp, offset_from, offset_to)
    else:
        GAPS_VERIFIED.labels(tp.topic, "dropped").inc()
        _refuse(tp, offset_from, offset_to)


REPAIRS: Final = Counter(
    "watchkeeper_stalled_partitions_repaired_total",
    "Partitions whose fetched records never reached a stream, re-read by the stall guard.",
    ["topic"],
)


class StallGuard:
    def __init__(self, topics: Collection[str], records_in: RecordsIn | None = None) -> None:
        self.topics = topics
        self.records_in = records_in
        """When set, a stall is confirmed by finding a record after the commit (not a marker)."""
        """Kept by reference: agents registered later (streams/ticks.py) are watched too."""
        self._last_committed: dict[Any, int | None] = {}
        self._still: dict[Any, int] = {}

    def stalled(self, tp: Any, delivered: int | None, committed: int | None, highwater: int | None) -> bool:
        """Pure decision. ``delivered``: Faust's read offset (informational); ``committed``:
        next offset to read after the last commit; ``highwater``: next offset the broker
        will write. Only the commit is evidence of processing: delivery can move on past
        records that were dropped."""
        next_committed = committed if committed is not None else 0
        behind = highwater is not None and highwater > next_committed
        moved = self._last_committed.get(tp, committed) != committed
        self._last_committed[tp] = committed
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
                if self.records_in is not None and not await self._records_after(tp, resume_at, highwater):
                    self._still[tp] = 0  # only markers after the commit: nothing waits
                    continue
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

    async def _records_after(self, tp: Any, first: int, end: int) -> bool:
        assert self.records_in is not None
        try:
            return await self.records_in(tp, first, end) > 0
        except Exception:  # cannot tell: re-reading is the safe side
            return True


class RecordProbe:
    """``RecordsIn``: whether the broker holds any record in an offset range, asked by a
    consumer outside the group. Offsets are not records: a transactional producer's commit
    markers and compaction leave offsets with no record, and the last marker of a partition
    is never delivered, so "the end offset is past the commit" does not mean "records wait".
    The first record at or after the range's start answers the question. Answers are cached
    per range, so a caller asking every tick costs one fetch per new range."""

    def __init__(self, bootstrap: str, **connection: Any) -> None:
        self.bootstrap = bootstrap
        self.connection = connection
        self.consumer: Any = None
        self.lock = asyncio.Lock()
        self.answers: dict[tuple[str, int, int, int], int] = {}

    async def __call__(self, tp: Any, first: int, end: int) -> int:
        key = (tp.topic, tp.partition, first, end)
        if key not in self.answers:
            if len(self.answers) > 10_000:
                self.answers.clear()
            self.answers[key] = await self._fetch(tp, first, end)
        return self.answers[key]

    async def _fetch(self, tp: Any, first: int, end: int) -> int:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        async with self.lock:
            if self.consumer is None:
                self.consumer = AIOKafkaConsumer(
                    bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False, **self.connection
                )
                await self.consumer.start()
            partition = TopicPartition(tp.topic, tp.partition)
            self.consumer.assign([partition])
            self.consumer.seek(partition, first)
            fetched = await self.consumer.getmany(partition, timeout_ms=2000, max_records=1)
            records = fetched.get(partition, [])
            if records:
                return 1 if records[0].offset < end else 0
            if await self.consumer.position(partition) >= end:  # read past markers only
                return 0
            raise TimeoutError("nothing fetched")
