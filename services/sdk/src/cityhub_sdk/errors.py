"""Use-case errors that carry their gRPC status, and the one place they become a gRPC answer.

A service raises `NotFound("report not found")` from any layer; the interceptor that the SDK
runtime installs on every server turns it into `context.abort(NOT_FOUND, text)`. The text is
written for clients (the gateway shows it), so it never carries internals. A database outage
(`cityhub_sdk.db.is_database_unavailable`) is not a bug: it answers UNAVAILABLE with a retry hint,
and the server is told at once so its readiness turns NOT_SERVING.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from cityhub_sdk.db import is_database_unavailable
from cityhub_sdk.logging import get_logger

log = get_logger(__name__)
RETRY_AFTER_KEY = "retry-after"  # trailing metadata: seconds until a refused call may succeed
DATABASE_RETRY_AFTER_S = 3  # readiness is re-checked every 2 s: a retry after 3 s meets the next result
DATABASE_UNAVAILABLE = "the service's database is unavailable; try again shortly"


class ServiceError(Exception):
    """Base class: `str(error)` is safe to show a client; `code` is its gRPC status."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        return ()


class InvalidArgument(ServiceError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(ServiceError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ServiceError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(ServiceError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class PermissionDenied(ServiceError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(ServiceError):
    code = grpc.StatusCode.UNAUTHENTICATED


class ResourceExhausted(ServiceError):
    """A quota is used up; `retry_after_s` travels as `retry-after` trailing metadata (the gateway's Retry-After)."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, detail: str = "", *, retry_after_s: int | None = None) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        return () if self.retry_after_s is None else ((RETRY_AFTER_KEY, str(max(1, self.retry_after_s))),)


class Unavailable(ServiceError):
    code = grpc.StatusCode.UNAVAILABLE


Behaviour = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
OnUnavailable = Callable[[], Awaitable[None]]  # "the database is gone": the server leaves readiness
# A status text travels in trailing metadata; a client refuses metadata above its limit (8 KiB by
# default) and would see RESOURCE_EXHAUSTED "received metadata size exceeds ..." instead.
MAX_DETAIL_CHARS = 1000


class _Undecodable:
    """What a request that is not valid protobuf decodes to, so the handler can answer INVALID_ARGUMENT."""


UNDECODABLE = _Undecodable()


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """grpc.aio answers a deserializer's exception with UNKNOWN (and its class); this never raises."""
    if deserializer is None:
        return None

    def decode(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception:  # noqa: BLE001 - DecodeError, or anything a broken message makes a parser raise
            return UNDECODABLE

    return decode


async def _refuse_undecodable(request: Any, context: grpc.aio.ServicerContext) -> None:
    if request is UNDECODABLE:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the request is not a valid protobuf message")


async def _abort_unavailable(
    context: grpc.aio.ServicerContext, method: str, exc: Exception, on_unavailable: OnUnavailable | None
) -> None:
    log.warning("grpc.database_unavailable", method=method, error=type(exc).__name__)
    if on_unavailable is not None:
        await on_unavailable()
    await context.abort(
        grpc.StatusCode.UNAVAILABLE,
        DATABASE_UNAVAILABLE,
        trailing_metadata=((RETRY_AFTER_KEY, str(DATABASE_RETRY_AFTER_S)),),
    )


def _mapped(behaviour: Behaviour, method: str, on_unavailable: OnUnavailable | None) -> Behaviour:
    async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await _refuse_undecodable(request, context)
        try:
            return await behaviour(request, context)
        except ServiceError as exc:
            await context.abort(exc.code, exc.detail[:MAX_DETAIL_CHARS], trailing_metadata=exc.trailing_metadata())
        except grpc.aio.AbortError:
            raise  # a handler's own context.abort(...)
        except Exception as exc:  # noqa: BLE001 - never send an exception's text or class to a client
            if is_database_unavailable(exc):
                await _abort_unavailable(context, method, exc, on_unavailable)
            log.error("grpc.unhandled_error", method=method, error=type(exc).__name__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")

    return call


def _streamed(
    behaviour: Callable[[Any, grpc.aio.ServicerContext], Any], method: str, on_unavailable: OnUnavailable | None
) -> Any:
    """A server-streaming handler, an async generator or a coroutine writing with `context.write`;
    a database outage answers UNAVAILABLE here too (anything else keeps grpc's own answer)."""
    if inspect.isasyncgenfunction(behaviour):

        async def generate(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            await _refuse_undecodable(request, context)
            try:
                async for item in behaviour(request, context):
                    yield item
            except Exception as exc:
                if not is_database_unavailable(exc):
                    raise
                await _abort_unavailable(context, method, exc, on_unavailable)

        return generate

    async def write(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await _refuse_undecodable(request, context)
        try:
            return await behaviour(request, context)
        except Exception as exc:
            if not is_database_unavailable(exc):
                raise
            await _abort_unavailable(context, method, exc, on_unavailable)

    return write


class ServiceErrorInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Maps every `ServiceError` a unary handler raises onto its status, and anything else onto a bare
    INTERNAL (the exception is logged by class, never sent); a database outage onto UNAVAILABLE with
    `retry-after`, after awaiting `on_unavailable` (unary and server-streaming); a request that is not
    valid protobuf answers INVALID_ARGUMENT. Installed by `GrpcServer`."""

    def __init__(self, on_unavailable: OnUnavailable | None = None) -> None:
        self.on_unavailable = on_unavailable

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _mapped(handler.unary_unary, handler_call_details.method, self.on_unavailable),
                request_deserializer=_tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _streamed(handler.unary_stream, handler_call_details.method, self.on_unavailable),
                request_deserializer=_tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        return handler
