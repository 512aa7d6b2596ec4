"""What every response of the worker's web server gets, whatever the path.

- Security headers on every response: /metrics, /ack, errors and 404s included.
- No unhandled 500: an exception in a view becomes a 400 with a short message, logged by
  its class only (a request's text may carry anything).
- ``/metrics`` needs a bearer token when ``WATCHKEEPER_METRICS_TOKEN`` is set: custody suites
  and areas are labels there.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

log = logging.getLogger(__name__)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Strict-Transport-Security": "max-age=31536000",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def middleware(metrics_token: str | None) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if metrics_token and request.path == "/metrics":
            offered = request.headers.get("Authorization", "")
            if not hmac.compare_digest(offered.encode(), f"Bearer {metrics_token}".encode()):
                return web.json_response({"error": "a metrics bearer token is required"}, status=401)
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception as exc:  # noqa: BLE001 - never a 500 with a traceback; never the request's text in the log
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "(no route)"
            log.warning("web: %s on %s %s", type(exc).__name__, request.method, route)
            return web.json_response({"error": "bad request"}, status=400)

    return guard


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def install(web_app: web.Application) -> None:
    web_app.on_response_prepare.append(add_headers)
