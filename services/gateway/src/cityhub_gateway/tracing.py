"""HTTP tracing without personal data: spans keep the route, never the query string.

Query strings carry exact coordinates (a resident's home in a nearby search) and, for browsers'
EventSource, an access token; the ASGI instrumentation would copy them into `http.url`. Its own
HTTP metrics are switched off for the same reason (their `http.target` is the raw path with its
query): the access log records the request figures by route template instead (`access_log.py`).
The request span is left in the ASGI scope, so that the access log can name it after the route
template once routing has run and log its trace id.
"""

from __future__ import annotations

from typing import Any

from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import Span

REQUEST_SPAN_KEY = "cityhub.request_span"  # the scope entry holding the server span of the request


def _url_without_query(scope: dict[str, Any]) -> str:
    scheme = scope.get("scheme", "http")
    headers = dict(scope.get("headers") or [])
    host = headers.get(b"host", b"").decode("latin-1") or "{}:{}".format(*(scope.get("server") or ("", "")))
    return f"{scheme}://{host}{scope.get('path', '')}"


def redact_request_span(span: Span, scope: dict[str, Any]) -> None:
    scope[REQUEST_SPAN_KEY] = span
    if span.is_recording():
        span.set_attribute("http.url", _url_without_query(scope))


def request_span(scope: Any) -> Span | None:
    span = scope.get(REQUEST_SPAN_KEY)
    return span if isinstance(span, Span) else None


def tracing_plugin() -> OpenTelemetryPlugin:
    return OpenTelemetryPlugin(
        OpenTelemetryConfig(server_request_hook_handler=redact_request_span, meter_provider=NoOpMeterProvider())
    )
