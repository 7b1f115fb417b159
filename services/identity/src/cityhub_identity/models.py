"""Identity tables. Personal data lives only in `accounts`, `places` and `consent_records`;
an erased account keeps its id (a tombstone) and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from cityhub_sdk.tables import utcnow
from sqlmodel import Field, SQLModel

TZ = sa.DateTime(timezone=True)


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class Account(SQLModel, table=True):
    __tablename__ = "accounts"

    id: str = Field(primary_key=True, max_length=36)
    email: str | None = Field(default=None, max_length=254, unique=True)  # NULL once erased
    password_hash: str = ""
    role: str = Field(max_length=16)
    department: str | None = Field(default=None, max_length=64)
    display_name: str = Field(default="", max_length=100)
    preferred_language: str = Field(default="en", max_length=16)
    phone: str = Field(default="", max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
    deleted_at: datetime | None = Field(default=None, sa_type=TZ)
    failed_logins: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=TZ)


class Session(SQLModel, table=True):
    """A refresh-token family: one sign-in, rotated on every refresh, revoked as a whole."""

    __tablename__ = "sessions"

    id: str = Field(primary_key=True, max_length=36)
    account_id: str = Field(max_length=36, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
    expires_at: datetime = Field(sa_type=TZ)
    revoked_at: datetime | None = Field(default=None, sa_type=TZ, index=True)


class RefreshToken(SQLModel, table=True):
    __tablename__ = "refresh_tokens"

    token_hash: str = Field(primary_key=True, max_length=64)  # sha256 hex; the token itself is never stored
    session_id: str = Field(max_length=36, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
    expires_at: datetime = Field(sa_type=TZ)
    used_at: datetime | None = Field(default=None, sa_type=TZ)
    successor_hash: str | None = Field(default=None, max_length=64)


class SigningKey(SQLModel, table=True):
    __tablename__ = "signing_keys"

    kid: str = Field(primary_key=True, max_length=64)
    private_key: str  # PEM, or "enc:" + AES-GCM ciphertext when a key-encryption secret is set
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZ)


class ServerSecret(SQLModel, table=True):
    __tablename__ = "server_secrets"

    name: str = Field(primary_key=True, max_length=64)
    value: str


class Place(SQLModel, table=True):
    __tablename__ = "places"

    id: str = Field(primary_key=True, max_length=36)
    account_id: str = Field(max_length=36, index=True)
    label: str = Field(max_length=40)
    latitude: float
    longitude: float
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZ)


class ConsentRecord(SQLModel, table=True):
    """Append-only: a withdrawal is a new record, never an update."""

    __tablename__ = "consent_records"

    id: str = Field(primary_key=True, max_length=36)
    account_id: str = Field(max_length=36, index=True)
    department: str = Field(max_length=64)
    purpose: str = Field(max_length=64)
    field: str = Field(max_length=32)
    granted: bool
    notice_version: str = Field(max_length=32)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
    seq: int = 0  # order within one account, robust to equal timestamps


class Pseudonym(SQLModel, table=True):
    """Pseudonyms handed to departments, so a department's id can be resolved back by the platform."""

    __tablename__ = "pseudonyms"

    department: str = Field(primary_key=True, max_length=64)
    pseudonym: str = Field(primary_key=True, max_length=64)
    account_id: str = Field(max_length=36, index=True)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: str = Field(primary_key=True, max_length=32)
    key_hash: str = Field(max_length=64)
    department: str = Field(max_length=64, index=True)
    label: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
    revoked_at: datetime | None = Field(default=None, sa_type=TZ)


class ErasureRequest(SQLModel, table=True):
    __tablename__ = "erasure_requests"

    id: str = Field(primary_key=True, max_length=36)
    account_id: str = Field(max_length=36, unique=True)
    expected_services: list[str] = Field(sa_type=sa.JSON)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
    completed_at: datetime | None = Field(default=None, sa_type=TZ)


class ErasureConfirmation(SQLModel, table=True):
    __tablename__ = "erasure_confirmations"

    account_id: str = Field(primary_key=True, max_length=36)
    service: str = Field(primary_key=True, max_length=64)
    confirmed_at: datetime = Field(default_factory=utcnow, sa_type=TZ)
