"""Periodic grpc.health.v1 checks of registered department services.

One SDK `PeriodicTask` (started and stopped with the service) checks every registration each
interval, or at once after a new registration, and stores SERVING / NOT_SERVING with the time.
Channels are cached per address and closed when the address is no longer registered.

A department hands us the address, so it is an outbound target like any other: resolved and
checked by the SDK's outbound policy before each check (loopback, private, link-local... refused
unless in OUTBOUND_ALLOWED_NETWORKS, e.g. the cluster's network), and the channel dials the checked
address itself, so a name that resolves elsewhere later is not followed. A refused address is NOT_SERVING.
"""

from __future__ import annotations

import asyncio

import grpc
from cityhub_sdk.db import Database
from cityhub_sdk.logging import get_logger
from cityhub_sdk.outbound import BlockedTarget, OutboundPolicy, UnresolvableTarget
from cityhub_sdk.tables import utcnow
from cityhub_sdk.worker import PeriodicTask
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cityhub_catalog.repository import dao_list_registrations, dao_set_health

SERVING = "SERVING"
NOT_SERVING = "NOT_SERVING"
log = get_logger(__name__)


class RegistrationHealthChecker:
    def __init__(
        self,
        db: Database,
        *,
        interval_s: float = 15.0,
        timeout_s: float = 2.0,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        self.db = db
        self.timeout_s = timeout_s
        self.outbound = outbound or OutboundPolicy()
        # address -> (the checked target it dials, its channel)
        self._channels: dict[str, tuple[str, grpc.aio.Channel]] = {}
        self._task = PeriodicTask(self.check_all, name="department-health-checks", interval_s=interval_s)

    async def start(self) -> None:
        await self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
        for _, channel in self._channels.values():
            await channel.close(grace=None)
        self._channels.clear()

    def check_soon(self) -> None:
        self._task.wake()

    async def check_all(self) -> None:
        async with self.db.session() as session:
            targets = [(r.slug, r.address) for r in await dao_list_registrations(session)]
        results = await asyncio.gather(*(self._check(address) for _, address in targets))
        checked_at = utcnow()
        async with self.db.transaction() as session:
            for (slug, address), status in zip(targets, results, strict=True):
                await dao_set_health(session, slug, address, status, checked_at)
        await self._close_unused({address for _, address in targets})

    async def _target(self, address: str) -> str | None:
        """`ipv4:a.b.c.d:port` / `ipv6:[::]:port` of a checked address, or None if refused."""
        host, _, port = address.rpartition(":")
        try:
            resolved = await self.outbound.check_resolved(host, int(port))
        except (BlockedTarget, UnresolvableTarget) as exc:
            log.warning("catalog.registration_refused", reason=type(exc).__name__)
            return None
        first = resolved[0]
        return f"ipv4:{first}:{port}" if first.version == 4 else f"ipv6:[{first}]:{port}"

    async def _check(self, address: str) -> str:
        target = await self._target(address)
        if target is None:
            return NOT_SERVING
        cached = self._channels.get(address)
        if cached is None or cached[0] != target:
            if cached is not None:
                await cached[1].close(grace=None)
            cached = self._channels[address] = (target, grpc.aio.insecure_channel(target))
        channel = cached[1]
        try:
            response = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=self.timeout_s
            )
        except grpc.aio.AioRpcError:
            return NOT_SERVING
        return SERVING if response.status == health_pb2.HealthCheckResponse.SERVING else NOT_SERVING

    async def _close_unused(self, addresses: set[str]) -> None:
        for address in [a for a in self._channels if a not in addresses]:
            await self._channels.pop(address)[1].close(grace=None)
