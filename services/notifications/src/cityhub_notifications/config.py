"""Notifications settings: channels, SMTP, Web Push and delivery policy, all from the environment."""

from __future__ import annotations

from pathlib import Path

from cityhub_sdk.settings import ServiceSettings
from pydantic import Field


class NotificationsSettings(ServiceSettings):
    service_name: str = Field(default="notifications", validation_alias="OTEL_SERVICE_NAME")
    grpc_port: int = Field(default=50055, validation_alias="GRPC_PORT")
    # Channels beyond the inbox that this deployment offers, by name (see channels.CHANNEL_FACTORIES).
    channels: list[str] = Field(default=["push", "email"], validation_alias="CHANNELS")
    default_chain: list[str] = Field(default=["push", "email"], validation_alias="DEFAULT_CHANNEL_CHAIN")
    smtp_host: str | None = Field(default=None, validation_alias="SMTP_HOST", json_schema_extra={"production": True})
    smtp_port: int = Field(default=25, validation_alias="SMTP_PORT")
    smtp_username: str | None = Field(default=None, validation_alias="SMTP_USERNAME")
    smtp_password: str | None = Field(
        default=None, validation_alias="SMTP_PASSWORD", json_schema_extra={"secret": True}
    )
    smtp_starttls: bool = Field(default=False, validation_alias="SMTP_STARTTLS")
    smtp_from: str = Field(default="Lakeview City <no-reply@lakeview.example>", validation_alias="SMTP_FROM")
    smtp_timeout_s: float = Field(default=10.0, validation_alias="SMTP_TIMEOUT_S")
    vapid_private_key: str | None = Field(
        default=None, validation_alias="VAPID_PRIVATE_KEY", json_schema_extra={"secret": True}
    )
    vapid_subject: str = Field(default="mailto:notifications@lakeview.example", validation_alias="VAPID_SUBJECT")
    push_timeout_s: float = Field(default=10.0, validation_alias="PUSH_TIMEOUT_S")
    run_dir: Path | None = Field(default=None, validation_alias="CITYHUB_RUN_DIR")
    max_radius_m: int = Field(default=5000, validation_alias="MAX_SUBSCRIPTION_RADIUS_M")
    default_max_per_hour: int = Field(default=10, validation_alias="DEFAULT_MAX_PER_HOUR")
    default_time_zone: str = Field(default="America/Los_Angeles", validation_alias="DEFAULT_TIME_ZONE")
    dispatch_interval_s: float = Field(default=0.5, validation_alias="DISPATCH_INTERVAL_S")
    dispatch_batch: int = Field(default=50, validation_alias="DISPATCH_BATCH")
    retry_backoff_s: list[float] = Field(default=[5.0, 30.0, 120.0, 600.0, 1800.0], validation_alias="RETRY_BACKOFF_S")
    max_attempts: int = Field(default=6, validation_alias="DELIVERY_MAX_ATTEMPTS")
    sending_lease_s: float = Field(default=120.0, validation_alias="DELIVERY_SENDING_LEASE_S")
    contact_cache_s: float = Field(default=60.0, validation_alias="CONTACT_CACHE_S")
    fanout_chunk_cells: int = Field(default=500, validation_alias="FANOUT_CHUNK_CELLS")
    refs_per_event: int = Field(default=5000, validation_alias="NOTIFICATION_REFS_PER_EVENT")
