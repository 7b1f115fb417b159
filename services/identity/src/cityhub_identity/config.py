"""Identity settings: token lifetimes, password hashing cost, throttling, erasure confirmations."""

from __future__ import annotations

from pathlib import Path

from cityhub_sdk.settings import ServiceSettings
from pydantic import Field


class IdentitySettings(ServiceSettings):
    service_name: str = Field(default="identity", validation_alias="OTEL_SERVICE_NAME")
    grpc_port: int = Field(default=50051, validation_alias="GRPC_PORT")
    # Identity verifies its callers itself (its own keys and API-key table), so no peer address is needed.
    identity_addr: str | None = Field(default=None, validation_alias="IDENTITY_ADDR")

    access_token_ttl_s: int = Field(default=600, le=900, validation_alias="ACCESS_TOKEN_TTL_S")
    refresh_token_ttl_s: int = Field(default=30 * 24 * 3600, validation_alias="REFRESH_TOKEN_TTL_S")
    refresh_grace_s: float = Field(default=10.0, validation_alias="REFRESH_GRACE_S")

    # Argon2id; the defaults are OWASP's minimum (19 MiB, 2 iterations, 1 lane). Never lower.
    argon2_memory_kib: int = Field(default=19456, ge=19456, validation_alias="ARGON2_MEMORY_KIB")
    argon2_time_cost: int = Field(default=2, ge=2, validation_alias="ARGON2_TIME_COST")
    argon2_parallelism: int = Field(default=1, ge=1, validation_alias="ARGON2_PARALLELISM")

    lockout_threshold: int = Field(default=5, validation_alias="LOCKOUT_THRESHOLD")
    lockout_base_s: int = Field(default=60, validation_alias="LOCKOUT_BASE_S")
    lockout_max_s: int = Field(default=3600, validation_alias="LOCKOUT_MAX_S")

    signing_keys_dir: Path | None = Field(default=None, validation_alias="IDENTITY_SIGNING_KEYS_DIR")
    # Encrypts private signing keys at rest in the database when set (a Kubernetes secret).
    key_encryption_secret: str | None = Field(
        default=None,
        validation_alias="IDENTITY_KEY_ENCRYPTION_SECRET",
        json_schema_extra={"production": True, "secret": True},
    )
    # A new key is published this long before it signs, so every verifier's JWKS cache has it.
    key_activation_delay_s: float = Field(default=15.0, validation_alias="IDENTITY_KEY_ACTIVATION_DELAY_S")
    key_cache_s: float = Field(default=5.0, validation_alias="IDENTITY_KEY_CACHE_S")
    # Secrets for pseudonyms and refresh-token derivation; generated and stored in the DB when unset.
    pseudonym_secret: str | None = Field(
        default=None, validation_alias="IDENTITY_PSEUDONYM_SECRET", json_schema_extra={"secret": True}
    )

    erasure_confirming_services: list[str] = Field(
        default=["incidents", "notifications"], validation_alias="ERASURE_CONFIRMING_SERVICES"
    )
    max_places: int = Field(default=10, validation_alias="MAX_PLACES")
