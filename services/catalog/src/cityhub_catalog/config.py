"""Catalog settings."""

from __future__ import annotations

from cityhub_sdk.settings import ServiceSettings
from pydantic import Field


class CatalogSettings(ServiceSettings):
    service_name: str = Field(default="catalog", validation_alias="OTEL_SERVICE_NAME")
    grpc_port: int = Field(default=50052, validation_alias="GRPC_PORT")
    # How often registered department services get a grpc.health.v1 check.
    registration_check_interval_s: float = Field(default=15.0, gt=0, validation_alias="REGISTRATION_CHECK_INTERVAL_S")
