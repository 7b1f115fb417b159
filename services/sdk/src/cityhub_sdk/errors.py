"""Use-case errors that carry their gRPC status, and the one place they become a gRPC answer.

A service raises `NotFound("report not found")` from any layer; the interceptor that the SDK
runtime installs on every server turns it into `context.abort(NOT_FOUND, text)`. The text is
written for clients (the gateway shows it), so it never carries internals.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from cityhub_sdk.logging import get_logger

log = get_logger(__name__)


class ServiceError(Exception):
    """Base class: `str(error)` is safe to show a client; `code` is its gRPC status."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail


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
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(ServiceError):
    code = grpc.StatusCode.UNAVAILABLE


Behaviour = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]


def _mapped(behaviour: Behaviour, method: str) -> Behaviour:
    async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await behaviour(request, context)
        except ServiceError as exc:
            await context.abort(exc.code, exc.detail)
        except grpc.aio.AbortError:
            raise  # a handler's own context.abort(...)
        except Exception as exc:  # noqa: BLE001 - never send an exception's text or class to a client
            log.error("grpc.unhandled_error", method=method, error=type(exc).__name__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")

    return call


class ServiceErrorInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Maps every `ServiceError` a unary handler raises onto its status, and anything else onto a bare
    INTERNAL (the exception is logged by class, never sent); installed by `GrpcServer`."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        return grpc.unary_unary_rpc_method_handler(
            _mapped(handler.unary_unary, handler_call_details.method),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
