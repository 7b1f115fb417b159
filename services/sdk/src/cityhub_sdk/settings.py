"""Twelve-factor settings shared by every service; a service subclasses them and adds its own."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Read from the environment once at start-up; a missing required value stops the process."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    service_name: str = Field(validation_alias="OTEL_SERVICE_NAME")
    database_url: str = Field(validation_alias="DATABASE_URL")
    nats_url: str = Field(validation_alias="NATS_URL")
    grpc_host: str = Field(default="127.0.0.1", validation_alias="GRPC_HOST")
    grpc_port: int = Field(validation_alias="GRPC_PORT")
    grpc_max_message_bytes: int = Field(default=8 * 1024 * 1024, validation_alias="GRPC_MAX_MESSAGE_BYTES")
    grpc_shutdown_grace_s: float = Field(default=10.0, validation_alias="GRPC_SHUTDOWN_GRACE_S")
    nats_stream_replicas: int = Field(default=1, validation_alias="NATS_STREAM_REPLICAS")
    nats_streams_file: Path | None = Field(default=None, validation_alias="NATS_STREAMS_FILE")
    outbox_max_attempts: int = Field(default=10, ge=1, validation_alias="OUTBOX_MAX_ATTEMPTS")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_json: bool = Field(default=True, validation_alias="LOG_JSON")
    internal_api_token: str | None = Field(default=None, validation_alias="INTERNAL_API_TOKEN")
    identity_addr: str | None = Field(default=None, validation_alias="IDENTITY_ADDR")
    auth_revocation_ttl_s: float = Field(default=5.0, validation_alias="AUTH_REVOCATION_TTL_S")
    auth_api_key_ttl_s: float = Field(default=60.0, validation_alias="AUTH_API_KEY_TTL_S")

    @property
    def grpc_address(self) -> str:
        return f"{self.grpc_host}:{self.grpc_port}"
