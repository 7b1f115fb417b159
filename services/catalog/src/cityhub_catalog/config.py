"""Catalog settings."""

from __future__ import annotations

from cityhub_sdk.settings import ServiceSettings
from pydantic import Field


class CatalogSettings(ServiceSettings):
    service_name: str = Field(default="catalog", validation_alias="OTEL_SERVICE_NAME")
    grpc_port: int = Field(default=50052, validation_alias="GRPC_PORT")
