"""Service centres as the catalog describes them: queues, opening hours, which departments run a
queue, and the city's time zone. Public catalog reads, cached for `ttl_s`; an unknown centre
triggers one early refresh (at most every `min_refresh_s`), so a centre added to the catalog
appears without a restart.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from cityhub.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from cityhub_sdk.errors import InvalidArgument, NotFound
from cityhub_sdk.grpc_client import create_channel

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Center:
    id: str
    name: str
    lat: float
    lon: float
    queues: dict[str, frozenset[str]]  # queue slug -> departments of its services
    queue_names: dict[str, str]
    hours: dict[str, tuple[tuple[str, str], ...]]  # weekday -> ((open, close), ...) local "HH:MM"

    def queue_departments(self, queue: str) -> frozenset[str]:
        if queue not in self.queues:
            raise InvalidArgument(f"centre {self.id} has no queue {queue!r}")
        return self.queues[queue]


@dataclass(frozen=True)
class CityDirectory:
    timezone: ZoneInfo
    centers: dict[str, Center]


class CenterDirectory:
    def __init__(self, catalog_addr: str, *, ttl_s: float = 300.0, min_refresh_s: float = 10.0) -> None:
        self.channel = create_channel(
            catalog_addr, services=[catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"]]
        )
        self.stub = catalog_pb2_grpc.CatalogServiceStub(self.channel)
        self.ttl_s = ttl_s
        self.min_refresh_s = min_refresh_s
        self._directory: CityDirectory | None = None
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    async def directory(self, *, force: bool = False) -> CityDirectory:
        age = time.monotonic() - self._loaded_at
        if self._directory is not None and age < self.ttl_s and not (force and age >= self.min_refresh_s):
            return self._directory
        async with self._lock:
            age = time.monotonic() - self._loaded_at
            if self._directory is None or age >= self.ttl_s or (force and age >= self.min_refresh_s):
                self._directory = await self._load()
                self._loaded_at = time.monotonic()
        assert self._directory is not None
        return self._directory

    async def center(self, center_id: str) -> Center:
        found = (await self.directory()).centers.get(center_id)
        if found is None:
            found = (await self.directory(force=True)).centers.get(center_id)
        if found is None:
            raise NotFound("service centre not found")
        return found

    async def timezone(self) -> ZoneInfo:
        return (await self.directory()).timezone

    async def _load(self) -> CityDirectory:
        departments: dict[str, str] = {}
        token = ""
        while True:
            services = await self.stub.ListServices(
                catalog_pb2.ListServicesRequest(lang="en", page_size=100, page_token=token)
            )
            departments.update({s.slug: s.department for s in services.services})
            token = services.next_page_token
            if not token:
                break
        centers: dict[str, Center] = {}
        token = ""
        while True:
            page = await self.stub.ListServiceCenters(
                catalog_pb2.ListServiceCentersRequest(lang="en", page_size=100, page_token=token)
            )
            for c in page.centers:
                centers[c.id] = Center(
                    id=c.id,
                    name=c.name,
                    lat=c.lat,
                    lon=c.lon,
                    queues={
                        q.slug: frozenset(departments[s] for s in q.services if s in departments) for q in c.queues
                    },
                    queue_names={q.slug: q.name for q in c.queues},
                    hours={
                        h.day: tuple(tuple(r.split("-", 1)) for r in h.ranges if "-" in r)  # type: ignore[misc]
                        for h in c.hours
                    },
                )
            token = page.next_page_token
            if not token:
                break
        city = (await self.stub.GetCity(catalog_pb2.GetCityRequest(lang="en"))).city
        return CityDirectory(timezone=ZoneInfo(city.timezone or "UTC"), centers=centers)

    async def close(self) -> None:
        await self.channel.close(grace=None)
