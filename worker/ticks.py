"""Wall-clock ticks for agents whose state lives in tables (faust-notes: timers cannot write tables).

A ticked agent registers the topic whose partitions it owns, a ticks topic with the same
partition count, and its due index. Every ``tick_seconds`` each worker sends one tick per
partition it actively owns; the agent reads its ticks in the same stream as its input, so
the tick for partition p is handled by p's current owner, inside stream iteration. Due
indexes are dropped on every rebalance and rebuilt from the table on the first tick.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from faust.types import AppT, TopicT

from worker.due_index import DueIndex


@dataclass(frozen=True)
class Ticked:
    owned_topic: str
    ticks: TopicT
    index: DueIndex


@dataclass
class Ticks:
    app: AppT
    ticked: list[Ticked] = field(default_factory=list)

    def register(self, owned_topic: str, ticks: TopicT, index: DueIndex) -> None:
        self.ticked.append(Ticked(owned_topic, ticks, index))

    def owned(self, topic: str) -> list[int]:
        """The partitions of ``topic`` this worker actively owns now."""
        return [tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == topic]

    async def send(self) -> None:
        """Runs on every worker: one tick per owned partition of every ticked agent."""
        if self.app.rebalancing or not self.ticked:
            return
        owned = self.app.assignor.assigned_actives()
        stamp = str(time.time()).encode()
        for ticked in self.ticked:
            for tp in owned:
                if tp.topic == ticked.owned_topic:
                    await ticked.ticks.send(value=stamp, partition=tp.partition)

    def indexes_built(self) -> bool:
        """Every ticked agent's due index is built for every partition this worker actively owns."""
        owned = self.app.assignor.assigned_actives()
        return all(
            ticked.index.is_built(tp.partition)
            for ticked in self.ticked
            for tp in owned
            if tp.topic == ticked.owned_topic
        )

    def forget(self) -> None:
        """On every rebalance: partitions may have moved; each index is rebuilt on its next tick."""
        for ticked in self.ticked:
            ticked.index.clear()
