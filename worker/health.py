"""``/livez`` and ``/readyz``: what a Kubernetes probe or a Compose healthcheck asks.

Live means the process and its event loop answer. Ready means this worker can be trusted
with what it owns: it has been assigned its partitions (no rebalance under way), Faust has
recovered its active tables, every ticked agent has rebuilt its due index for every
partition it owns, so no deadline it holds can pass unseen, and it has read the silence log
(until then its dispatcher decides nothing). ``/metrics`` answers long before
that, which is why probes must not use it.

Neither path needs a token and neither says anything about a case: only the three checks.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from faust.types import AppT

from worker.ticks import Ticks


@dataclass
class Health:
    app: AppT
    ticks: Ticks
    silences_loaded: asyncio.Event
    assigned: bool = False
    """Partitions have been assigned at least once (Faust is not rebalancing before the first)."""

    def connect(self) -> None:
        def on_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
            self.assigned = True

        self.app.on_partitions_assigned.connect(on_assigned, weak=False)

    def checks(self) -> dict[str, bool]:
        return {
            "partitions_assigned": self.assigned and not self.app.rebalancing,
            "tables_recovered": bool(self.app.tables.actives_ready),
            "due_indexes_rebuilt": self.ticks.indexes_built(),
            "silences_loaded": self.silences_loaded.is_set(),
        }

    def install(self, router: web.UrlDispatcher) -> None:
        router.add_get("/livez", self.livez)
        router.add_get("/readyz", self.readyz)

    async def livez(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"live": True})

    async def readyz(self, request: web.Request) -> web.StreamResponse:
        checks = self.checks()
        ready = all(checks.values())
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)
