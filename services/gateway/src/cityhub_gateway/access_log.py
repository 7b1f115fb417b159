"""One structured log line and one RED measurement per HTTP request, by route template.

Wraps the whole application (requests that match no route included, as route `unmatched`), so
uvicorn's own access log stays off. A line holds the route template, method, status, duration and
trace id: never the raw path, the query string, a header, an address or a body, so nothing about
a person or a credential reaches the log. The same figures feed
`http_server_request_duration_seconds{http_route, http_request_method, http_response_status_code}`
(its `_count` is the request rate, the status label the errors, the buckets the latency).
"""

from __future__ import annotations

import time
from typing import Any

from cityhub_sdk.logging import get_logger
from cityhub_sdk.metrics import duration_histogram
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry import metrics

from cityhub_gateway.tracing import request_span

log = get_logger("cityhub_gateway.access")
UNMATCHED = "unmatched"  # the route of a request that matched none (404/405 before any handler)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_duration = duration_histogram(
    metrics.get_meter("cityhub_gateway.http"),
    "http.server.request.duration",
    "HTTP requests served, by route template, method and status (attributes: http.route, "
    "http.request.method, http.response.status_code)",
)


def route_template(scope: Any) -> str:
    template = scope.get("path_template")
    return str(template) if template else UNMATCHED


def _name_span(scope: Any, method: str) -> None:
    """The server span is named before routing, after the raw path; rename it after the template
    (`http.route` keeps Litestar's "METHOD template" form, without the raw path's ids)."""
    span = request_span(scope)
    if span is not None and span.is_recording():
        route = route_template(scope)
        name = f"{method} {route}" if route != UNMATCHED else method
        span.update_name(name)
        span.set_attribute("http.route", name)


def _trace_id(scope: Any) -> str | None:
    span = request_span(scope)
    if span is None:
        return None
    context = span.get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


class AccessLog:
    """ASGI middleware around the application (see `install`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        raw_method = str(scope.get("method", "")).upper()
        method = raw_method if raw_method in METHODS else "_OTHER"
        status = 500  # what the client sees if the application fails before answering

        async def send_measured(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                _name_span(scope, method)
            await send(message)

        try:
            await self.app(scope, receive, send_measured)
        finally:
            duration_s = time.perf_counter() - started
            route = route_template(scope)
            _duration.record(
                duration_s,
                {"http.route": route, "http.request.method": method, "http.response.status_code": status},
            )
            log.info(
                "http.request",
                route=route,
                method=method,
                status=status,
                duration_ms=round(duration_s * 1000, 1),
                trace_id=_trace_id(scope),
            )


def install(app: Any) -> None:
    """Wrap the Litestar application's whole handler (routing, errors and tracing inside)."""
    app.asgi_handler = AccessLog(app.asgi_handler)
