"""``POST /events``: a force's systems post their records over HTTP, by the CloudEvents HTTP
protocol binding, in any of its three modes:

- structured (``application/cloudevents+json``): one event, attributes and data together;
- batched (``application/cloudevents-batch+json``): a JSON array of structured events;
- binary (``ce-`` headers): the attributes in headers, the body the data, with its own
  ``Content-Type``.

Each event is validated exactly as on the input topics (streams/validation.py) and reported
in the response, in order: ``accepted`` (on the broker, ``acks=all``, keyed by its subject,
on its domain's input topic, as structured mode with undeclared fields dropped),
``duplicate`` (this worker accepted the same event already: a retry is harmless), or
``rejected`` with the reason the dead-letter topic uses. A refusal is answered to the sender,
who holds the record, and counted (``watchkeeper_ingest_total``); there is no message on a
topic for a dead letter to point at. ``unavailable`` means the broker did not take it: send
it again (503).

Only a token with ``ingest`` access may post, and it can do nothing else. The body is
bounded (``WATCHKEEPER_INGEST_MAX_BYTES``, 413), and so is the number of events waiting for
the broker (``WATCHKEEPER_INGEST_IN_FLIGHT``): a request that would pass it is refused whole
with 429 and ``Retry-After``, before anything of it is sent, so nothing accepted is lost and
nothing is half-accepted.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import unquote

import msgspec
from aiohttp import web

from agents.engine import event_digest, event_identity
from streams.contract import Domain, Event, domain_of
from streams.validation import InputLimits, Rejection, decode_binary, decode_event, is_utf8, media_type
from worker.channels import Produce
from worker.clock import utcnow
from worker.metrics import Metrics
from worker.web.door import Door, may_ingest

log = logging.getLogger(__name__)
STRUCTURED: Final = "application/cloudevents+json"
BATCH: Final = "application/cloudevents-batch+json"
CE_HTTP_HEADER: Final = "ce-"
REMEMBERED: Final = 100_000
"""Accepted events remembered, to answer a retry ``duplicate`` (the engine drops it anyway)."""
Outcome = Literal["accepted", "duplicate", "rejected", "unavailable"]
_BATCH_DECODER: Final = msgspec.json.Decoder(list[msgspec.Raw])


@dataclass
class Ingest:
    door: Door
    produce_to: Callable[[Domain], Produce]
    """The input topic of a domain, by its ``Produce``: each send returns the broker's ack to await."""
    limits: InputLimits
    metrics: Metrics
    max_bytes: int
    in_flight: int
    clock: Callable[[], dt.datetime] = utcnow
    waiting: int = 0
    """Events of admitted requests not yet acknowledged by the broker."""
    accepted: OrderedDict[str, str] = field(default_factory=OrderedDict)
    """(subject, identity) -> content digest of events accepted here, oldest first, bounded."""

    def install(self, router: web.UrlDispatcher) -> None:
        router.add_post("/events", self.post)
        router.add_get("/openapi.yaml", openapi)

    async def post(self, request: web.Request) -> web.StreamResponse:
        caller = self.door.bearer(request, may_ingest, "post events")
        if isinstance(caller, web.Response):
            return caller
        too_large = _error(413, "payload_too_large", f"the body may be at most {self.max_bytes} bytes")
        if request.content_length is not None and request.content_length > self.max_bytes:
            return too_large
        body = await _read_at_most(request, self.max_bytes)
        if body is None:
            return too_large
        decoded = self._decode(request, body)
        if isinstance(decoded, web.Response):
            return decoded
        admitted = sum(isinstance(item, Event) for item in decoded)
        if self.waiting + admitted > self.in_flight:
            response = _error(429, "busy", "too many events waiting for the broker; send again shortly")
            response.headers["Retry-After"] = "1"
            return response
        self.waiting += admitted
        try:
            results = await self._hand_on(decoded)
        finally:
            self.waiting -= admitted
        unavailable = any(r["outcome"] == "unavailable" for r in results)
        response = web.json_response({"results": results}, status=503 if unavailable else 200)
        if unavailable:
            response.headers["Retry-After"] = "5"
        return response

    def _decode(self, request: web.Request, body: bytes) -> list[Event | Rejection] | web.Response:
        """The events of the request in order, each an Event or its Rejection; or why the
        request as a whole cannot be read."""
        now, limits = self.clock(), self.limits
        content_type = request.headers.get("Content-Type")
        if any(name.lower() == f"{CE_HTTP_HEADER}specversion" for name in request.headers):
            attributes = {
                name[len(CE_HTTP_HEADER) :].lower(): unquote(value)  # HTTP binding: percent-encoded values
                for name, value in request.headers.items()
                if name.lower().startswith(CE_HTTP_HEADER)
            }
            return [decode_binary(attributes, content_type, body, now=now, limits=limits)]
        kind = media_type(content_type or "")
        if kind not in (STRUCTURED, BATCH) or not is_utf8(content_type or ""):
            return _error(
                415, "unsupported_content_type", f"post {STRUCTURED}, {BATCH}, or binary mode with ce- headers"
            )
        if kind == STRUCTURED:
            return [decode_event(body, now=now, limits=limits)]
        try:
            items = _BATCH_DECODER.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            return _error(400, "malformed_json", "a batch is a JSON array of structured-mode events")
        return [decode_event(bytes(item), now=now, limits=limits) for item in items]

    async def _hand_on(self, items: list[Event | Rejection]) -> list[dict[str, Any]]:
        """Send every new event, then wait for the broker's acknowledgement of each: an event is
        ``accepted`` only once the broker has it."""
        results: list[dict[str, Any]] = []
        pending: list[tuple[dict[str, Any], str, str, Awaitable[object] | None]] = []
        batch: dict[str, str] = {}
        for index, item in enumerate(items):
            if isinstance(item, Rejection):
                results.append(self._count({"index": index, "outcome": "rejected", "reason": item.reason,
                                            "detail": item.detail}))  # fmt: skip
                continue
            identity, digest = f"{item.subject} {event_identity(item)}", event_digest(item)
            known = batch.get(identity) or self.accepted.get(identity)
            result: dict[str, Any] = {"index": index, "id": item.id}
            if known is not None:
                conflict = known != digest
                outcome = {"outcome": "rejected", "reason": "id_conflict"} if conflict else {"outcome": "duplicate"}
                results.append(self._count({**result, **outcome}))
                continue
            batch[identity] = digest
            pending.append((result, identity, digest, await self._send(item)))
            results.append(result)
        for result, identity, digest, ack in pending:
            try:
                if ack is None:
                    raise ConnectionError("not handed to the producer")
                await ack
            except Exception as exc:  # noqa: BLE001 - reported to the sender, who sends it again
                log.warning("ingest: %s handing an event to the broker", type(exc).__name__)
                result["outcome"] = "unavailable"
            else:
                result["outcome"] = "accepted"
                self._remember(identity, digest)
            self._count(result)
        return results

    async def _send(self, event: Event) -> Awaitable[object] | None:
        """Hand the event to the producer; the broker's acknowledgement to await, or None if
        the producer refused it (the sender is told ``unavailable``)."""
        value = msgspec.json.encode(event.to_cloudevent())
        try:
            return await self.produce_to(domain_of(event.type))(event.subject.encode(), value)
        except Exception as exc:  # noqa: BLE001 - reported to the sender, who sends it again
            log.warning("ingest: %s handing an event to the producer", type(exc).__name__)
            return None

    def _remember(self, identity: str, digest: str) -> None:
        self.accepted[identity] = digest
        self.accepted.move_to_end(identity)
        while len(self.accepted) > REMEMBERED:
            self.accepted.popitem(last=False)

    def _count(self, result: dict[str, Any]) -> dict[str, Any]:
        self.metrics.ingested.labels(result["outcome"], result.get("reason", "none")).inc()
        return result


OPENAPI: Final = Path(__file__).with_name("openapi.yaml")
"""The API a force's integrators build against: this and the ack endpoints (docs/openapi.yaml)."""


async def openapi(request: web.Request) -> web.StreamResponse:
    return web.Response(body=OPENAPI.read_bytes(), content_type="application/yaml")


async def _read_at_most(request: web.Request, limit: int) -> bytes | None:
    """The whole body, or None once it passes ``limit`` bytes (the rest is never read)."""
    chunks, size = [], 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status: int, reason: str, detail: str) -> web.Response:
    return web.json_response({"error": reason, "detail": detail}, status=status)
