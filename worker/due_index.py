"""Open deadlines indexed by due time, per partition, so a tick costs O(due · log n), not O(n).

The table is the truth; this index is a cache rebuilt from it. It lives in the worker's
memory, is built for a partition the first time a tick for that partition is processed
(by then Faust has recovered the table), and is dropped on every rebalance. A heap with
lazy deletion: updating a key pushes a new entry; stale entries are skipped when popped.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterable


class DueIndex:
    def __init__(self) -> None:
        self._heaps: dict[int, list[tuple[float, bytes]]] = {}
        self._due: dict[int, dict[bytes, float]] = {}

    def is_built(self, partition: int) -> bool:
        return partition in self._heaps

    def build(self, partitions: Iterable[int], entries: Iterable[tuple[int, bytes, float | None]]) -> dict[int, int]:
        """Index ``partitions`` from one pass over (partition, key, due as POSIX seconds or None);
        entries of other partitions are skipped. Returns the open deadlines per partition."""
        wanted: dict[int, dict[bytes, float]] = {p: {} for p in partitions}
        for partition, key, ts in entries:
            bucket = wanted.get(partition)
            if bucket is not None and ts is not None:
                bucket[key] = ts
        for partition, due in wanted.items():
            heap = [(ts, key) for key, ts in due.items()]
            heapq.heapify(heap)
            self._heaps[partition], self._due[partition] = heap, due
        return {partition: len(due) for partition, due in wanted.items()}

    def clear(self) -> None:
        """Forget everything: partitions may have moved, rebuild from the table on next tick."""
        self._heaps.clear()
        self._due.clear()

    def set(self, partition: int, key: bytes, when: dt.datetime | None) -> None:
        """Record a key's next due time (None: nothing pending). No-op until the partition is built,
        because building reads the table, which already holds this write."""
        if partition not in self._heaps:
            return
        due = self._due[partition]
        if when is None:
            due.pop(key, None)
            return
        ts = when.timestamp()
        if due.get(key) != ts:
            due[key] = ts
            heapq.heappush(self._heaps[partition], (ts, key))

    def bring_forward(self, now: dt.datetime) -> None:
        """Make every key of every built partition due at ``now`` (each is set again when handled)."""
        for partition, due in self._due.items():
            for key in due:
                self.set(partition, key, now)

    def pop_due(self, partition: int, now: dt.datetime) -> list[bytes]:
        """Keys due at ``now``, each once, removed from the index (the caller sets them again)."""
        heap, due = self._heaps.get(partition), self._due.get(partition)
        if heap is None or due is None:
            return []
        limit, keys = now.timestamp(), []
        while heap and heap[0][0] <= limit:
            ts, key = heapq.heappop(heap)
            if due.get(key) == ts:
                del due[key]
                keys.append(key)
        return keys

    def __len__(self) -> int:
        return sum(len(d) for d in self._due.values())
