"""Twelve-factor settings shared by every service; a service subclasses them and adds its own."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Read from the environment once at start-up; a missing required value stops the process.

    Marks read by tests/contract/test_settings_contract.py (every deployment file must provide):
    `json_schema_extra={"production": True}` = has a default for tests and `make run` but must be
    set in production; `{"secret": True}` = must come from a Secret, never a plain value (names
    with TOKEN, SECRET, PASSWORD, PRIVATE_KEY, API_KEY, ACCESS_KEY count as secret without it).
    """

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    service_name: str = Field(validation_alias="OTEL_SERVICE_NAME")
    database_url: str = Field(validation_alias="DATABASE_URL", json_schema_extra={"secret": True})
    nats_url: str = Field(validation_alias="NATS_URL")
    grpc_host: str = Field(default="127.0.0.1", validation_alias="GRPC_HOST", json_schema_extra={"production": True})
    grpc_port: int = Field(validation_alias="GRPC_PORT")
    grpc_max_message_bytes: int = Field(default=8 * 1024 * 1024, validation_alias="GRPC_MAX_MESSAGE_BYTES")
    grpc_shutdown_grace_s: float = Field(default=10.0, validation_alias="GRPC_SHUTDOWN_GRACE_S")
    nats_stream_replicas: int = Field(default=1, validation_alias="NATS_STREAM_REPLICAS")
    nats_streams_file: Path | None = Field(default=None, validation_alias="NATS_STREAMS_FILE")
    outbox_max_attempts: int = Field(default=10, ge=1, validation_alias="OUTBOX_MAX_ATTEMPTS")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_json: bool = Field(default=True, validation_alias="LOG_JSON")
    internal_api_token: str | None = Field(
        default=None, validation_alias="INTERNAL_API_TOKEN", json_schema_extra={"production": True, "secret": True}
    )
    identity_addr: str | None = Field(
        default=None, validation_alias="IDENTITY_ADDR", json_schema_extra={"production": True}
    )
    auth_revocation_ttl_s: float = Field(default=5.0, validation_alias="AUTH_REVOCATION_TTL_S")
    auth_api_key_ttl_s: float = Field(default=60.0, validation_alias="AUTH_API_KEY_TTL_S")
    # The admin port: Prometheus text at /metrics; unset = no admin server (OTLP still works).
    metrics_port: int | None = Field(default=None, ge=0, le=65535, validation_alias="METRICS_PORT")
    metrics_host: str = Field(default="127.0.0.1", validation_alias="METRICS_HOST")
    consumer_lag_interval_s: float = Field(default=15.0, gt=0, validation_alias="CONSUMER_LAG_INTERVAL_S")
    # `serve` brings its database to head (under the migration lock) and runs its `seed` command in
    # its own process before its port opens: `make run` sets both. Off by default: Kubernetes and
    # compose migrate in a separate step first, and a seed is for the demo city only.
    migrate_on_start: bool = Field(default=False, validation_alias="MIGRATE_ON_START")
    seed_on_start: bool = Field(default=False, validation_alias="SEED_ON_START")
    # Networks that caller-supplied URLs and addresses may reach although not public (comma-separated
    # CIDRs, none by default; cityhub_sdk.outbound), e.g. "127.0.0.1/32" for a local push server.
    outbound_allowed_networks: str = Field(default="", validation_alias="OUTBOUND_ALLOWED_NETWORKS")

    @property
    def grpc_address(self) -> str:
        return f"{self.grpc_host}:{self.grpc_port}"
