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
    identity_addr: str = Field(validation_alias="IDENTITY_ADDR")
    incidents_addr: str = Field(validation_alias="INCIDENTS_ADDR")
    # Optional: without them the notification routes (and /v1/stream) answer 503.
    notifications_addr: str | None = Field(default=None, validation_alias="NOTIFICATIONS_ADDR")
    nats_url: str | None = Field(default=None, validation_alias="NATS_URL")
    internal_api_token: str | None = Field(default=None, validation_alias="INTERNAL_API_TOKEN")
    # Token verification: JWKS refetch on an unknown kid at most this often; revoked sessions cached this long.
    jwks_min_refresh_s: float = Field(default=10.0, validation_alias="JWKS_MIN_REFRESH_S")
    revocation_ttl_s: float = Field(default=5.0, validation_alias="AUTH_REVOCATION_TTL_S")
    api_key_ttl_s: float = Field(default=60.0, validation_alias="AUTH_API_KEY_TTL_S")
    # Per client address on /v1/auth/* (in memory, per replica).
    auth_rate_limit_per_minute: int = Field(default=30, validation_alias="AUTH_RATE_LIMIT_PER_MINUTE")
    cors_allow_origins: list[str] = Field(default=["*"], validation_alias="CORS_ALLOW_ORIGINS")
    max_body_bytes: int = Field(default=6 * 1024 * 1024, validation_alias="MAX_BODY_BYTES")
    grpc_timeout_s: float = Field(default=5.0, validation_alias="GRPC_TIMEOUT_S")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_json: bool = Field(default=True, validation_alias="LOG_JSON")

    def peers(self) -> dict[str, str]:
        """Every backend service by name, for health and client set-up."""
        peers = {"catalog": self.catalog_addr, "identity": self.identity_addr, "incidents": self.incidents_addr}
        if self.notifications_addr:
            peers["notifications"] = self.notifications_addr
        return peers
