"""Incidents settings."""

from __future__ import annotations

import os
from pathlib import Path

from cityhub_sdk.settings import ServiceSettings
from pydantic import AliasChoices, Field


def _default_photo_storage() -> str:
    run_dir = Path(os.environ.get("CITYHUB_RUN_DIR", ".run")).resolve()
    return f"file://{run_dir / 'photos'}"


class IncidentsSettings(ServiceSettings):
    service_name: str = Field(default="incidents", validation_alias="OTEL_SERVICE_NAME")
    grpc_port: int = Field(default=50054, validation_alias="GRPC_PORT")
    catalog_addr: str = Field(validation_alias="CATALOG_ADDR")
    photo_storage_url: str = Field(
        default_factory=_default_photo_storage,
        validation_alias="PHOTO_STORAGE_URL",
        json_schema_extra={"production": True},
    )
    s3_endpoint_url: str = Field(default="", validation_alias=AliasChoices("S3_ENDPOINT_URL", "AWS_ENDPOINT_URL"))
    catalog_cache_ttl_s: float = Field(default=60.0, validation_alias="CATALOG_CACHE_TTL_S")
    duplicate_window_days: int = Field(default=30, validation_alias="DUPLICATE_WINDOW_DAYS")
    default_report_radius_m: int = Field(default=250, validation_alias="DEFAULT_REPORT_RADIUS_M")
    max_search_radius_m: float = Field(default=5000.0, validation_alias="MAX_SEARCH_RADIUS_M")
    alert_sweep_interval_s: float = Field(default=30.0, validation_alias="ALERT_SWEEP_INTERVAL_S")
    # Report flood limits (per replica): reports per account or device, and per client address, per window.
    report_quota_per_reporter: int = Field(default=20, validation_alias="REPORT_QUOTA_PER_REPORTER")
    report_quota_per_address: int = Field(default=60, validation_alias="REPORT_QUOTA_PER_ADDRESS")
    report_quota_window_s: float = Field(default=3600.0, validation_alias="REPORT_QUOTA_WINDOW_S")
