"""Gateway settings: where it listens and where every peer service is."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    """A missing peer address stops the gateway at start-up rather than failing on first use."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    service_name: str = Field(default="gateway", validation_alias="OTEL_SERVICE_NAME")
    http_host: str = Field(default="127.0.0.1", validation_alias="HTTP_HOST", json_schema_extra={"production": True})
    http_port: int = Field(default=8000, validation_alias="HTTP_PORT")
    catalog_addr: str = Field(validation_alias="CATALOG_ADDR")
    identity_addr: str = Field(validation_alias="IDENTITY_ADDR")
    incidents_addr: str = Field(validation_alias="INCIDENTS_ADDR")
    # Optional: without them the notification routes (and /v1/stream) answer 503.
    notifications_addr: str | None = Field(
        default=None, validation_alias="NOTIFICATIONS_ADDR", json_schema_extra={"production": True}
    )
    # Optional: without it the wait-time and check-in routes answer 503 and centres carry no wait times.
    waittimes_addr: str | None = Field(default=None, validation_alias="WAITTIMES_ADDR")
    nats_url: str | None = Field(default=None, validation_alias="NATS_URL", json_schema_extra={"production": True})
    internal_api_token: str | None = Field(
        default=None, validation_alias="INTERNAL_API_TOKEN", json_schema_extra={"production": True, "secret": True}
    )
    # Token verification: JWKS refetch on an unknown kid at most this often; revoked sessions cached this long.
    jwks_min_refresh_s: float = Field(default=10.0, validation_alias="JWKS_MIN_REFRESH_S")
    revocation_ttl_s: float = Field(default=5.0, validation_alias="AUTH_REVOCATION_TTL_S")
    api_key_ttl_s: float = Field(default=60.0, validation_alias="AUTH_API_KEY_TTL_S")
    # Per client address on /v1/auth/* (in memory, per replica).
    auth_rate_limit_per_minute: int = Field(default=30, validation_alias="AUTH_RATE_LIMIT_PER_MINUTE")
    # Abuse limits (security): sign-in and registration per address AND per account, refresh and logout
    # per refresh token (never per address: carrier NAT puts many residents behind one), windows of
    # AUTH_RATE_WINDOW_S; live streams per resident; the last known revocation list used while identity
    # is unreachable for at most AUTH_REVOCATION_MAX_STALE_S.
    auth_account_rate_limit_per_minute: int = Field(default=30, validation_alias="AUTH_ACCOUNT_RATE_LIMIT_PER_MINUTE")
    auth_refresh_rate_limit_per_minute: int = Field(default=10, validation_alias="AUTH_REFRESH_RATE_LIMIT_PER_MINUTE")
    auth_rate_window_s: float = Field(default=60.0, validation_alias="AUTH_RATE_WINDOW_S")
    max_streams_per_resident: int = Field(default=5, validation_alias="MAX_STREAMS_PER_RESIDENT")
    revocation_max_stale_s: float = Field(default=60.0, validation_alias="AUTH_REVOCATION_MAX_STALE_S")
    # Client addresses: X-Forwarded-For is read only from these networks (comma-separated CIDRs; none by default).
    # Production must say which (k8s: the ingress controller's pod network; empty = reached directly).
    trusted_proxies: str = Field(default="", validation_alias="TRUSTED_PROXIES", json_schema_extra={"production": True})
    # The public URL of this API (Open311 discovery, media links); never taken from the Host header.
    public_base_url: str | None = Field(
        default=None, validation_alias="PUBLIC_BASE_URL", json_schema_extra={"production": True}
    )
    cors_allow_origins: list[str] = Field(
        default=["*"], validation_alias="CORS_ALLOW_ORIGINS", json_schema_extra={"production": True}
    )
    max_body_bytes: int = Field(default=6 * 1024 * 1024, validation_alias="MAX_BODY_BYTES")
    grpc_timeout_s: float = Field(default=5.0, validation_alias="GRPC_TIMEOUT_S")
    # Catalog answers kept in memory (response_cache.py): at most CATALOG_CACHE_TTL_S while the
    # catalog's revision events are followed on NATS, at most CATALOG_CACHE_FALLBACK_TTL_S while they are
    # not (no NATS_URL, NATS down); 0 keeps nothing.
    catalog_cache_ttl_s: float = Field(default=60.0, ge=0.0, validation_alias="CATALOG_CACHE_TTL_S")
    catalog_cache_fallback_ttl_s: float = Field(default=1.0, ge=0.0, validation_alias="CATALOG_CACHE_FALLBACK_TTL_S")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_json: bool = Field(default=True, validation_alias="LOG_JSON")

    def public_url(self) -> str:
        """PUBLIC_BASE_URL, else this gateway's own listening address (a wildcard host as loopback)."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = "127.0.0.1" if self.http_host in ("", "0.0.0.0", "::") else self.http_host
        return f"http://{host}:{self.http_port}"

    def peers(self) -> dict[str, str]:
        """Every backend service by name, for health and client set-up."""
        peers = {"catalog": self.catalog_addr, "identity": self.identity_addr, "incidents": self.incidents_addr}
        if self.notifications_addr:
            peers["notifications"] = self.notifications_addr
        if self.waittimes_addr:
            peers["waittimes"] = self.waittimes_addr
        return peers
