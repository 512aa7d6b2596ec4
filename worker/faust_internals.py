"""Every read or replacement of a private attribute of Faust or aiokafka, in one place.

Each is pinned to the versions ``pyproject.toml`` bounds (faust-streaming 0.15, aiokafka
0.14) and says why no public API does the job. A Faust upgrade starts here: check each one
against the new source before anything else (docs/design.md, "Never silent").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from faust.types import TP, AppT

AddGap = Callable[[Any, TP, int, int], Awaitable[None]]
"""``Consumer._add_gap(self, tp, offset_from, offset_to)``."""
GetConn = Callable[..., Awaitable[Any]]
"""``AIOKafkaClient._get_conn(self, node_id, **kwargs)``."""

_wrapped: set[str] = set()


def committed_offsets(app: AppT) -> Mapping[TP, int | None]:
    """Per partition, the next offset to read after the last commit. Faust keeps it only on
    the consumer (``transport/consumer.py``); it is the one evidence that records were
    processed (the stall guard, and a tick's decision how far a backlog is read)."""
    consumer: Any = app.consumer
    offsets: Mapping[TP, int | None] = consumer._committed_offset  # noqa: SLF001 - no public view of it
    return offsets


def read_offsets(app: AppT) -> Mapping[TP, int | None]:
    """Per partition, the last offset handed to a stream; logged by the stall guard."""
    consumer: Any = app.consumer
    offsets: Mapping[TP, int | None] = consumer._read_offset  # noqa: SLF001 - no public view of it
    return offsets


def wrap_add_gap(wrap: Callable[[AddGap], AddGap]) -> None:
    """Replace ``Consumer._add_gap`` (faust/transport/consumer.py), the one place Faust records
    skipped offsets as processed, with ``wrap(original)``; once per process."""
    from faust.transport.consumer import Consumer

    if "add_gap" in _wrapped:
        return
    _wrapped.add("add_gap")
    original: AddGap = Consumer._add_gap  # noqa: SLF001 - the behaviour to change has no hook
    Consumer._add_gap = wrap(original)  # type: ignore[method-assign, assignment]  # noqa: SLF001


def wrap_get_conn(wrap: Callable[[GetConn], GetConn]) -> None:
    """Replace ``AIOKafkaClient._get_conn`` (aiokafka/client.py), where every client opens a
    connection to a broker, with ``wrap(original)``; once per process."""
    from aiokafka.client import AIOKafkaClient

    if "get_conn" in _wrapped:
        return
    _wrapped.add("get_conn")
    original: GetConn = AIOKafkaClient._get_conn  # noqa: SLF001 - reconnect backoff has no setting
    AIOKafkaClient._get_conn = wrap(original)  # noqa: SLF001
