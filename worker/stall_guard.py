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
import weakref
from collections.abc import Awaitable, Callable, Collection
from typing import Any, Final, cast

from faust.transport.consumer import Consumer
from faust.types import TP, AppT

from worker import faust_internals
from worker.faust_internals import AddGap
from worker.metrics import Metrics

log = logging.getLogger(__name__)
STALL_CHECKS: Final = 3
RecordsIn = Callable[[Any, int, int], Awaitable[int]]
"""(partition, first offset, end offset) -> how many records the broker holds in [first, end)."""


class GapPolicy:
    """Which skipped offsets Faust may treat as processed, for one app's consumer.

    ``refused``: internal topics, where a gap means dropped records; it stays unacknowledged.
    ``verified``: input topics, whose gaps pass to Faust only once ``records_in`` finds no
    record in them (transaction markers); otherwise they are refused too."""

    def __init__(
        self, refused: Collection[str], verified: Collection[str], records_in: RecordsIn | None, metrics: Metrics
    ) -> None:
        self.refused, self.verified, self.records_in, self.metrics = set(refused), set(verified), records_in, metrics
        self.pending_checks: set[asyncio.Task[None]] = set()
        """Checks of input-topic gaps under way: held until done (the loop keeps only weak references)."""

    async def add_gap(self, faust_add_gap: AddGap, consumer: Any, tp: TP, offset_from: int, offset_to: int) -> None:
        # Faust's gap is [offset_from, offset_to], offset_to being the record that just arrived.
        if tp.topic in self.refused:
            self._refuse(tp, offset_from, offset_to)
        elif tp.topic in self.verified and self.records_in is not None:
            task = asyncio.ensure_future(self._check(faust_add_gap, consumer, tp, offset_from, offset_to))
            self.pending_checks.add(task)
            task.add_done_callback(self.pending_checks.discard)
        else:
            await faust_add_gap(consumer, tp, offset_from, offset_to)

    def _refuse(self, tp: TP, offset_from: int, offset_to: int) -> None:
        self.metrics.gaps_refused.labels(tp.topic).inc()
        log.warning(
            "%s[%d]: offsets %d-%d were skipped; they stay unprocessed until re-read",
            tp.topic,
            tp.partition,
            offset_from,
            offset_to - 1,
        )

    async def _check(self, faust_add_gap: AddGap, consumer: Any, tp: TP, offset_from: int, offset_to: int) -> None:
        """Meanwhile the gap holds the commit back, which is safe; an error leaves it refused."""
        assert self.records_in is not None
        try:
            skipped = await self.records_in(tp, offset_from, offset_to)
        except Exception as exc:  # noqa: BLE001 - any failure to ask leaves the gap refused, the safe side
            log.warning("%s[%d]: cannot check skipped offsets (%s)", tp.topic, tp.partition, type(exc).__name__)
            skipped = -1
        if skipped == 0:
            self.metrics.gaps_verified.labels(tp.topic, "markers").inc()
            await faust_add_gap(consumer, tp, offset_from, offset_to)
        else:
            self.metrics.gaps_verified.labels(tp.topic, "dropped").inc()
            self._refuse(tp, offset_from, offset_to)


_POLICIES: weakref.WeakKeyDictionary[Any, GapPolicy] = weakref.WeakKeyDictionary()
"""The gap policy of each assembled app, found from the consumer the replaced method runs on."""


def install_gap_policy(app: Any, policy: GapPolicy) -> None:
    """Make ``app``'s consumer follow ``policy`` (see the module docstring)."""
    _POLICIES[app] = policy
    faust_internals.wrap_add_gap(_with_policy)


def _with_policy(faust_add_gap: AddGap) -> AddGap:
    async def add_gap(consumer: Any, tp: TP, offset_from: int, offset_to: int) -> None:
        policy = _POLICIES.get(consumer.app)
        if policy is None:  # an app assembled without a policy keeps Faust's behaviour
            await faust_add_gap(consumer, tp, offset_from, offset_to)
        else:
            await policy.add_gap(faust_add_gap, consumer, tp, offset_from, offset_to)

    return add_gap


class StallGuard:
    def __init__(self, topics: Collection[str], metrics: Metrics, records_in: RecordsIn | None = None) -> None:
        self.topics = topics
        self.metrics = metrics
        self.records_in = records_in
        """When set, a stall is confirmed by finding a record after the commit (not a marker)."""
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

    async def check(self, app: AppT) -> None:
        consumer = cast(Consumer, app.consumer)
        if app.rebalancing or not consumer.flow_active:
            self._still.clear()
            return
        read_offset, committed_offset = faust_internals.read_offsets(app), faust_internals.committed_offsets(app)
        for tp in consumer.assignment():
            if tp.topic not in self.topics:
                continue
            try:
                highwater = consumer.highwater(tp)
            except Exception:  # noqa: BLE001 - not yet known right after an assignment: next check
                continue
            delivered, committed = read_offset.get(tp), committed_offset.get(tp)
            if self.stalled(tp, delivered, committed, highwater):
                await self._repair(app, tp, delivered, committed, highwater)

    async def _repair(self, app: AppT, tp: TP, delivered: int | None, committed: int | None, highwater: int) -> None:
        resume_at = committed if committed is not None else 0
        if self.records_in is not None and not await self._records_after(tp, resume_at, highwater):
            self._still[tp] = 0  # only markers after the commit: nothing waits
            return
        log.warning(
            "stall guard: %s[%d] delivered to %s, committed %s, broker at %s: re-reading from %d",
            tp.topic,
            tp.partition,
            delivered,
            committed,
            highwater,
            resume_at,
        )
        await app.consumer.seek(tp, resume_at)
        self.metrics.repairs.labels(tp.topic).inc()
        self._still[tp] = 0

    async def _records_after(self, tp: Any, first: int, end: int) -> bool:
        assert self.records_in is not None
        try:
            return await self.records_in(tp, first, end) > 0
        except Exception:  # noqa: BLE001 - cannot tell: re-reading is the safe side
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
