"""Handing a record on: send it to a topic and wait until the broker has it (``acks=all``).

Every hand-off in the shell goes through a ``Send``: the alerts the engine raised, the jobs
and transitions the dispatcher writes, dead letters, acknowledgements. Only once the broker
has the record does the sender record that it was sent (docs/design.md, "Never silent").
Shell classes take a ``Send`` rather than a Faust topic, so a unit test can hand them a list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from faust.types import TopicT

Send = Callable[[bytes, bytes], Awaitable[None]]
"""(key, value): the record is on the broker when the call returns."""


def acked(channel: TopicT) -> Send:
    async def send(key: bytes, value: bytes) -> None:
        sent = await channel.send(key=key, value=value)
        await sent

    return send


Produce = Callable[[bytes, bytes], Awaitable[Awaitable[object]]]
"""(key, value) -> the broker's acknowledgement, to await before the sender records anything:
for several records in flight at once (a dispatcher's jobs and transitions)."""


def produced(channel: TopicT) -> Produce:
    async def produce(key: bytes, value: bytes) -> Awaitable[object]:
        sent: Awaitable[object] = await channel.send(key=key, value=value)
        return sent

    return produce
