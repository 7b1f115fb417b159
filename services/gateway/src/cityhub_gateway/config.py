"""Gateway settings: where it listens and where every peer service is."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    """A missing peer address stops the gateway at start-up rather than failing on first use."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    service_name: str = Field(default="gateway", validation_alias="OTEL_SERVICE_NAME")
    http_host: str = Field(default="127.0.0.1", validation_alias="HTTP_HOST")
    http_port: int = Field(default=8000, validation_alias="HTTP_PORT")
    catalog_addr: str = Field(validation_alias="CATALOG_ADDR")
    cors_allow_origins: list[str] = Field(default=["*"], validation_alias="CORS_ALLOW_ORIGINS")
    max_body_bytes: int = Field(default=6 * 1024 * 1024, validation_alias="MAX_BODY_BYTES")
    grpc_timeout_s: float = Field(default=5.0, validation_alias="GRPC_TIMEOUT_S")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_json: bool = Field(default=True, validation_alias="LOG_JSON")

    def peers(self) -> dict[str, str]:
        """Every backend service by name, for health and client set-up."""
        return {"catalog": self.catalog_addr}
