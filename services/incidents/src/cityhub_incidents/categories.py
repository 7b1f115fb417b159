"""Report categories and the city boundary, read from the catalog over gRPC and cached briefly.

Both are public catalog reads, so the calls carry no credentials.

A category is a catalog service that takes reports; its department is where reports go. The cache
keeps the catalog off the hot path of every report without holding stale routing for long.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import grpc
from cityhub.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from cityhub_sdk.grpc_client import create_channel


@dataclass(frozen=True)
class FormField:
    code: str
    datatype: str
    required: bool
    values: frozenset[str]


@dataclass(frozen=True)
class Category:
    slug: str
    service_code: str
    department: str
    name: str
    takes_reports: bool
    report_radius_m: int
    form: tuple[FormField, ...] = field(default=())


class UnknownCategory(Exception):
    """The catalog has no service with that slug or code."""


class CategoryDirectory:
    """Looks up categories (by slug or Open311 service_code) and the city boundary."""

    def __init__(self, catalog_addr: str, *, ttl_s: float = 60.0, default_radius_m: int = 250) -> None:
        self.channel = create_channel(
            catalog_addr, services=[catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"]]
        )
        self.stub = catalog_pb2_grpc.CatalogServiceStub(self.channel)
        self.ttl_s = ttl_s
        self.default_radius_m = default_radius_m
        self._categories: dict[str, tuple[float, Category]] = {}
        self._boundary: tuple[float, list[tuple[float, float]]] | None = None

    async def get(self, key: str) -> Category:
        cached = self._categories.get(key)
        if cached is not None and time.monotonic() - cached[0] < self.ttl_s:
            return cached[1]
        by_code = key != key.lower()  # slugs are lower-case, Open311 codes upper-case
        request = (
            catalog_pb2.GetServiceRequest(lang="en", service_code=key)
            if by_code
            else catalog_pb2.GetServiceRequest(lang="en", slug=key)
        )
        try:
            response = await self.stub.GetService(request)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise UnknownCategory(key) from exc
            raise
        category = self._to_category(response.service)
        now = time.monotonic()
        self._categories[key] = (now, category)
        self._categories[category.slug] = (now, category)
        self._categories[category.service_code] = (now, category)
        return category

    def _to_category(self, service: catalog_pb2.Service) -> Category:
        return Category(
            slug=service.slug,
            service_code=service.service_code,
            department=service.department,
            name=service.name,
            takes_reports=service.takes_reports,
            report_radius_m=service.report_radius_m or self.default_radius_m,
            form=tuple(
                FormField(
                    code=a.code,
                    datatype=a.datatype,
                    required=a.required,
                    values=frozenset(v.key for v in a.values),
                )
                for a in service.form
                if a.variable
            ),
        )

    async def boundary(self) -> list[tuple[float, float]]:
        if self._boundary is not None and time.monotonic() - self._boundary[0] < self.ttl_s:
            return self._boundary[1]
        response = await self.stub.GetCity(catalog_pb2.GetCityRequest(lang="en"))
        polygon = [(p.lat, p.lon) for p in response.city.boundary]
        self._boundary = (time.monotonic(), polygon)
        return polygon

    def forget(self, *keys: str) -> None:
        """Drop cached entries (on `cityhub.catalog.service.updated`)."""
        for key in keys:
            self._categories.pop(key, None)

    async def close(self) -> None:
        await self.channel.close(grace=None)
