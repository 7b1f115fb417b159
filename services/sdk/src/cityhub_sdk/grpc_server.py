"""The gRPC aio server every service runs: health with liveness and readiness, tracing, RPC metrics,
limits, graceful stop.

Two questions, two health service names: `cityhub.liveness` answers "does this process serve?" and is
SERVING from start to shutdown whatever the database or NATS do (a liveness probe that followed them
would restart every pod during an outage); the overall "" and each service name answer "can it do
its work?" and follow the readiness checks (database and NATS), so a load balancer skips it meanwhile.
A call that meets a database outage turns readiness NOT_SERVING at once (`mark_unready`); the
background probe, every `readiness_interval_s`, turns it back once every check passes again. A check
that does not answer within `readiness_timeout_s` counts as failed, so a hanging database is seen too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from opentelemetry.instrumentation.grpc import aio_server_interceptor

from cityhub_sdk.errors import ServiceErrorInterceptor
from cityhub_sdk.logging import get_logger
from cityhub_sdk.rpc_metrics import RpcMetricsInterceptor

log = get_logger(__name__)

LIVENESS_SERVICE = "cityhub.liveness"  # the Kubernetes livenessProbe's grpc.service

ReadinessCheck = Callable[[], Awaitable[bool]]
Registration = Callable[[grpc.aio.Server], None]


class GrpcServer:
    """Owns the server and its health status: liveness while it serves, readiness from the checks."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        service_names: Sequence[str],
        registrations: Sequence[Registration],
        readiness_checks: Sequence[ReadinessCheck] = (),
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
        max_message_bytes: int = 8 * 1024 * 1024,
        readiness_interval_s: float = 2.0,
        readiness_timeout_s: float = 3.0,
        reflection: bool = False,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.service_names = list(service_names)
        self.readiness_checks = list(readiness_checks)
        self.readiness_interval_s = readiness_interval_s
        self.readiness_timeout_s = readiness_timeout_s
        self.health = health.aio.HealthServicer()
        self.server = grpc.aio.server(
            interceptors=[
                aio_server_interceptor(),  # type: ignore[no-untyped-call]
                RpcMetricsInterceptor(),  # outside the error mapping: it sees the code the caller gets
                *interceptors,
                ServiceErrorInterceptor(on_unavailable=self.mark_unready),
            ],
            options=[
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", max_message_bytes),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
                ("grpc.so_reuseport", 0),
            ],
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        for register in registrations:
            register(self.server)
        if reflection:
            from grpc_reflection.v1alpha import reflection as grpc_reflection  # type: ignore[import-not-found]

            grpc_reflection.enable_server_reflection([*self.service_names, grpc_reflection.SERVICE_NAME], self.server)
        self.port = 0
        self._readiness_task: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        self.port = self.server.add_insecure_port(f"{self.host}:{self.requested_port}")
        if self.port == 0:
            raise RuntimeError(f"cannot bind gRPC server to {self.host}:{self.requested_port}")
        await self.server.start()
        await self.health.set(LIVENESS_SERVICE, health_pb2.HealthCheckResponse.SERVING)
        await self._refresh_readiness()
        self._readiness_task = asyncio.create_task(self._watch_readiness(), name="grpc-readiness")
        log.info("grpc.started", address=self.address)

    async def _check(self, check: ReadinessCheck) -> bool:
        try:
            return await asyncio.wait_for(check(), timeout=self.readiness_timeout_s)
        except TimeoutError:
            log.warning("grpc.readiness_check_timed_out", check=getattr(check, "__name__", "check"))
            return False

    async def _set_readiness(self, ready: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if ready else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", *self.service_names):
            await self.health.set(name, status)

    async def _refresh_readiness(self) -> bool:
        ready = all([await self._check(check) for check in self.readiness_checks])
        await self._set_readiness(ready)
        return ready

    async def mark_unready(self) -> None:
        """A call just met a database outage: out of readiness now, not at the next probe (liveness
        stays SERVING; the background probe brings readiness back)."""
        await self._set_readiness(False)

    async def _watch_readiness(self) -> None:
        while True:
            await asyncio.sleep(self.readiness_interval_s)
            try:
                await self._refresh_readiness()
            except Exception as exc:  # noqa: BLE001 - a failing check means "not ready", not a crash
                log.warning("grpc.readiness_check_failed", error=type(exc).__name__)

    async def stop(self, grace_s: float) -> None:
        """Flip health (liveness too: the process is going) to NOT_SERVING first so load balancers
        drain us, then finish in-flight calls."""
        if self._readiness_task is not None:
            self._readiness_task.cancel()
            self._readiness_task = None
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_s)
        log.info("grpc.stopped", address=self.address)
