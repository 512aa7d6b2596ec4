"""Wall-clock ticks for agents whose state lives in tables (faust-notes: timers cannot write tables).

A ticked agent registers the topic whose partitions it owns, a ticks topic with the same
partition count, and its due index. Every ``tick_seconds`` each worker sends one tick per
partition it actively owns; the agent reads its ticks in the same stream as its input, so
the tick for partition p is handled by p's current owner, inside stream iteration. Due
indexes are dropped on every rebalance and rebuilt from the table on the first tick.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import faust

from agents.due_index import DueIndex
from agents.stored_case import index_entries
from streams.app import app, settings


@dataclass(frozen=True)
class Ticked:
    owned_topic: str
    ticks: faust.TopicT
    index: DueIndex


TICKED: list[Ticked] = []
WATCHED_TOPICS: set[str] = set()
"""Topics the stall guard watches (streams/stall_guard.py)."""


def register(owned_topic: str, ticks: faust.TopicT, index: DueIndex, *also_watch: str) -> None:
    TICKED.append(Ticked(owned_topic, ticks, index))
    WATCHED_TOPICS.update((owned_topic, *(t.get_topic_name() for t in [ticks]), *also_watch))


def build_index(
    index: DueIndex, owned_topic: str, partition: int, items: Iterable[tuple[bytes, bytes]]
) -> dict[int, int]:
    """Index ``partition`` and every other partition of ``owned_topic`` this worker actively
    owns and has not indexed yet, in one pass over the table's stored records (headers only).
    Returns the open deadlines per partition indexed."""
    owned = [tp.partition for tp in app.assignor.assigned_actives() if tp.topic == owned_topic]
    wanted = {p for p in owned if not index.is_built(p)} | {partition}
    return index.build(wanted, index_entries(items))


@app.timer(interval=settings.tick_seconds)
async def send_ticks() -> None:
    """Runs on every worker: one tick per owned partition of every ticked agent."""
    if app.rebalancing or not TICKED:
        return
    owned = app.assignor.assigned_actives()
    stamp = str(time.time()).encode()
    for ticked in TICKED:
        for tp in owned:
            if tp.topic == ticked.owned_topic:
                await ticked.ticks.send(value=stamp, partition=tp.partition)


@app.on_partitions_revoked.connect
async def _forget_on_revoke(sender: Any, revoked: Any, **_: Any) -> None:
    for ticked in TICKED:
        ticked.index.clear()


@app.on_partitions_assigned.connect
async def _forget_on_assign(sender: Any, assigned: Any, **_: Any) -> None:
    for ticked in TICKED:
        ticked.index.clear()
