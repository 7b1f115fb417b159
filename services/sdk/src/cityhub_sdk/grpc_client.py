"""gRPC channels to peers: a default deadline on every call, retries only for idempotent methods.

Retries come from gRPC's own service config (UNAVAILABLE only) and apply to methods whose names
start with a read verb, plus any the caller lists; a create carries an idempotency key instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from opentelemetry.instrumentation.grpc import aio_client_interceptors

READ_PREFIXES = ("Get", "List", "Search", "Check", "Export", "Watch")
DEFAULT_TIMEOUT_S = 5.0


class _DefaultDeadline:
    """Adds the default timeout to calls made without one, so nothing waits for ever."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    def _with_deadline(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        if details.timeout is not None:
            return details
        return grpc.aio.ClientCallDetails(
            method=details.method,
            timeout=self.timeout_s,
            metadata=details.metadata,
            credentials=details.credentials,
            wait_for_ready=details.wait_for_ready,
        )


class _UnaryUnaryDeadline(_DefaultDeadline, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._with_deadline(client_call_details), request)


class _UnaryStreamDeadline(_DefaultDeadline, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._with_deadline(client_call_details), request)


def service_config(
    services: Iterable[ServiceDescriptor], *, idempotent: Sequence[str] = (), max_attempts: int = 4
) -> dict[str, Any]:
    names = []
    for service in services:
        for method in service.methods:
            if method.name.startswith(READ_PREFIXES) or method.name in idempotent:
                names.append({"service": service.full_name, "method": method.name})
    if not names:
        return {}
    return {
        "methodConfig": [
            {
                "name": names,
                "retryPolicy": {
                    "maxAttempts": max_attempts,
                    "initialBackoff": "0.1s",
                    "maxBackoff": "1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }


def create_channel(
    address: str,
    *,
    services: Iterable[ServiceDescriptor] = (),
    idempotent: Sequence[str] = (),
    default_timeout_s: float = DEFAULT_TIMEOUT_S,
    max_message_bytes: int = 8 * 1024 * 1024,
) -> grpc.aio.Channel:
    """A channel for `address` (host:port) speaking to `services`."""
    options: list[tuple[str, Any]] = [
        ("grpc.enable_retries", 1),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]
    config = service_config(services, idempotent=idempotent)
    if config:
        options.append(("grpc.service_config", json.dumps(config)))
    interceptors: list[grpc.aio.ClientInterceptor] = [
        _UnaryUnaryDeadline(default_timeout_s),
        _UnaryStreamDeadline(default_timeout_s),
        *aio_client_interceptors(),  # type: ignore[no-untyped-call]
    ]
    return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
