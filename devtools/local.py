"""What the demo and the tests both need on one machine: a free port, CloudEvents to send,
and a real webhook receiver on loopback."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cloudevent(
    subject: str,
    event_type: str,
    data: dict[str, Any] | None = None,
    *,
    at: dt.datetime,
    recorded: dt.datetime | None = None,
    event_id: str | None = None,
    source: str = "tests",
    **extra: Any,
) -> dict[str, Any]:
    """A structured-mode CloudEvent of the contract, as a source system would send it."""
    return {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": source,
        "type": event_type,
        "subject": subject,
        "time": at.isoformat(),
        "recordedtime": (recorded or at).isoformat(),
        "data": data or {},
        **extra,
    }


class Receiver:
    """A real HTTP server on loopback that records every POST (headers, body, arrival time).

    ``script`` holds the answers for the next requests, as (status, headers); when it is
    empty the answer is 204. ``down()`` closes the port and ``up()`` opens it again, on the
    same port, as a receiver that goes away for a while and comes back. ``on_post`` is told
    of each delivery it accepted."""

    def __init__(self, port: int = 0, on_post: Callable[[dict[str, str], bytes], None] | None = None) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.arrivals: list[float] = []
        self.script: list[tuple[int, dict[str, str]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                status, headers = owner.script.pop(0) if owner.script else (204, {})
                owner.arrivals.append(time.monotonic())
                if 200 <= status < 300:
                    owner.received.append((dict(self.headers), body))
                    if on_post is not None:
                        on_post(dict(self.headers), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._handler = Handler
        self._start(port)

    def _start(self, port: int) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def up(self) -> None:
        self._start(self.port)

    def bodies(self) -> list[Any]:
        return [json.loads(body) for _, body in self.received]
