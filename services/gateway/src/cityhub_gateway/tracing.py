"""HTTP tracing without personal data: spans keep the route, never the query string.

Query strings carry exact coordinates (a resident's home in a nearby search) and, for browsers'
EventSource, an access token; the ASGI instrumentation would copy them into `http.url`.
"""

from __future__ import annotations

from typing import Any

from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from opentelemetry.trace import Span


def _url_without_query(scope: dict[str, Any]) -> str:
    scheme = scope.get("scheme", "http")
    headers = dict(scope.get("headers") or [])
    host = headers.get(b"host", b"").decode("latin-1") or "{}:{}".format(*(scope.get("server") or ("", "")))
    return f"{scheme}://{host}{scope.get('path', '')}"


def redact_request_span(span: Span, scope: dict[str, Any]) -> None:
    if span.is_recording():
        span.set_attribute("http.url", _url_without_query(scope))


def tracing_plugin() -> OpenTelemetryPlugin:
    return OpenTelemetryPlugin(OpenTelemetryConfig(server_request_hook_handler=redact_request_span))
