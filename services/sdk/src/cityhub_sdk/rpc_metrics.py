"""RED figures per RPC: one histogram, `rpc_server_duration_seconds{rpc_service, rpc_method, rpc_grpc_status_code}`.

Its `_count` is the rate, the status code label the errors, the buckets the duration. Installed by
`GrpcServer` outside the error mapping, so the code is the one the caller received.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from opentelemetry import metrics

from cityhub_sdk.metrics import duration_histogram

_duration = duration_histogram(
    metrics.get_meter("cityhub_sdk.grpc"),
    "rpc.server.duration",
    "gRPC calls served, by service, method and status code (attributes: rpc.service, rpc.method, rpc.grpc.status_code)",
)


def _split(full_method: str) -> tuple[str, str]:
    """'/cityhub.incidents.v1.IncidentsService/CreateReport' -> (service, method)."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    return service or "unknown", method or "unknown"


def _code(context: grpc.aio.ServicerContext, *, failed: bool) -> str:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    if isinstance(code, int):  # grpc keeps the raw value after abort() on some versions
        for status in grpc.StatusCode:
            if status.value[0] == code:
                return str(status.name)
    return "UNKNOWN" if failed else "OK"


def _measured_unary(behaviour: Callable[..., Awaitable[Any]], service: str, method: str) -> Callable[..., Any]:
    async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
        started = time.perf_counter()
        failed = True
        try:
            result = await behaviour(request, context)
            failed = False
            return result
        finally:
            _record(context, service, method, started, failed=failed)

    return call


def _measured_stream(behaviour: Callable[..., Any], service: str, method: str) -> Callable[..., Any]:
    if not inspect.isasyncgenfunction(behaviour):
        return _measured_unary(behaviour, service, method)  # a coroutine that writes with context.write

    async def call(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        started = time.perf_counter()
        failed = True
        try:
            async for item in behaviour(request, context):
                yield item
            failed = False
        finally:
            _record(context, service, method, started, failed=failed)

    return call


def _record(context: grpc.aio.ServicerContext, service: str, method: str, started: float, *, failed: bool) -> None:
    _duration.record(
        time.perf_counter() - started,
        {"rpc.service": service, "rpc.method": method, "rpc.grpc.status_code": _code(context, failed=failed)},
    )


class RpcMetricsInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Times every call a registered method serves; unknown methods (UNIMPLEMENTED) are not labelled."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        service, method = _split(handler_call_details.method)
        kwargs = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(_measured_unary(handler.unary_unary, service, method), **kwargs)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _measured_stream(handler.unary_stream, service, method), **kwargs
            )
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                _measured_unary(handler.stream_unary, service, method), **kwargs
            )
        if handler.stream_stream is not None:
            return grpc.stream_stream_rpc_method_handler(
                _measured_stream(handler.stream_stream, service, method), **kwargs
            )
        return handler
