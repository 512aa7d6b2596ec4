"""The silence log: every silence, on every worker, and on the audit topic.

A silence is a record on ``<prefix>.silences`` (compacted, one partition, keyed by silence id),
which every worker reads from the start and follows (worker/compacted.py), so the dispatcher
that owns an alert, whichever worker it runs on, sees every silence. Creating or ending one
puts the silence on that log and a ``SilenceChange`` on the audit topic
(``<prefix>.alert-transitions``, keyed ``silence:<id>``), and answers only once the broker has
both. The dispatcher waits until the log has been read to its end before it decides anything
(``loaded``), so a restarted worker never pages through a silence it has not read yet.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from alerts.silence import (
    SILENCE_DECODER,
    SILENCE_ENCODER,
    Silence,
    SilenceChange,
    SilenceError,
    SilenceRequest,
    Silences,
    created,
    ended,
    new_silence,
)
from worker.channels import Produce
from worker.clock import utcnow
from worker.compacted import follow_compacted
from worker.metrics import Metrics


@dataclass
class SilenceLog:
    produce_silence: Produce
    produce_audit: Produce
    metrics: Metrics
    clock: Callable[[], dt.datetime] = utcnow
    silences: Silences = field(default_factory=Silences)
    loaded: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the log has been read to the end it had when this worker started."""
    listeners: list[Callable[[], None]] = field(default_factory=list)
    """Told after every change: the dispatcher looks again at what it holds, the console reloads."""

    async def create(self, request: SilenceRequest, by: str) -> Silence:
        """A new silence from an admin's request; SilenceError names what is wrong with it."""
        silence = new_silence(request, by, self.clock(), uuid.uuid4().hex)
        await self._write(silence, created(silence))
        return silence

    async def end(self, silence_id: str, by: str) -> Silence:
        """End a silence now; LookupError if there is none of that id, SilenceError if it has ended."""
        found = self.silences.by_id.get(silence_id)
        if found is None:
            raise LookupError(silence_id)
        done, change = ended(found, by, self.clock())
        await self._write(done, change)
        return done

    async def _write(self, silence: Silence, change: SilenceChange) -> None:
        key = silence.silence_id.encode()
        on_log = await self.produce_silence(key, SILENCE_ENCODER.encode(silence))
        on_audit = await self.produce_audit(b"silence:" + key, SILENCE_ENCODER.encode(change))
        await on_log
        await on_audit
        self.metrics.silence_changes.labels(change.change).inc()
        self.apply(key, SILENCE_ENCODER.encode(silence))

    def apply(self, key: bytes, value: bytes | None) -> None:
        """One record of the log (the follower's, or this worker's own write, applied at once)."""
        if value is None:
            return
        self.silences.apply(SILENCE_DECODER.decode(value))
        self.update_gauge()
        for listener in self.listeners:
            listener()

    def update_gauge(self) -> None:
        for status, count in self.silences.counts(self.clock()).items():
            self.metrics.silences.labels(status).set(count)

    def upkeep(self) -> None:
        """Every few seconds: silences start and end by time alone (the gauge), and old ones are let go."""
        self.silences.forget_ended(self.clock())
        self.update_gauge()

    async def follow(self, bootstrap: str, topic: str, connection: dict[str, Any]) -> None:
        await follow_compacted(bootstrap, topic, connection, self.apply, self.loaded.set)


__all__ = ["SilenceError", "SilenceLog"]
