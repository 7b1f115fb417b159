"""Periodic grpc.health.v1 checks of registered department services.

One SDK `PeriodicTask` (started and stopped with the service) checks every registration each
interval, or at once after a new registration, and stores SERVING / NOT_SERVING with the time.
Channels are cached per address and closed when the address is no longer registered.
"""

from __future__ import annotations

import asyncio

import grpc
from cityhub_sdk.db import Database
from cityhub_sdk.tables import utcnow
from cityhub_sdk.worker import PeriodicTask
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cityhub_catalog.repository import dao_list_registrations, dao_set_health

SERVING = "SERVING"
NOT_SERVING = "NOT_SERVING"


class RegistrationHealthChecker:
    def __init__(self, db: Database, *, interval_s: float = 15.0, timeout_s: float = 2.0) -> None:
        self.db = db
        self.timeout_s = timeout_s
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._task = PeriodicTask(self.check_all, name="department-health-checks", interval_s=interval_s)

    async def start(self) -> None:
        await self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
        for channel in self._channels.values():
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

    async def _check(self, address: str) -> str:
        channel = self._channels.get(address)
        if channel is None:
            channel = self._channels[address] = grpc.aio.insecure_channel(address)
        try:
            response = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=self.timeout_s
            )
        except grpc.aio.AioRpcError:
            return NOT_SERVING
        return SERVING if response.status == health_pb2.HealthCheckResponse.SERVING else NOT_SERVING

    async def _close_unused(self, addresses: set[str]) -> None:
        for address in [a for a in self._channels if a not in addresses]:
            await self._channels.pop(address).close(grace=None)
