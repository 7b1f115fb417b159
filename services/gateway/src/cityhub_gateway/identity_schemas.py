"""Identity's HTTP bodies and answers (msgspec Structs with the service's bounds and vocabularies,
so the OpenAPI document says what identity accepts) and their conversion from protobuf."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from cityhub.identity.v1 import identity_pb2
from cityhub_sdk.timestamps import from_timestamp

from cityhub_gateway.catalog_schemas import Language

Role = Literal["resident", "staff", "operator"]
ConsentField = Literal["name", "email", "phone", "address"]
Email = Annotated[str, msgspec.Meta(max_length=254, examples=["ann@example.org"])]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
NewPassword = Annotated[str, msgspec.Meta(min_length=10, max_length=128, description="10 to 128 characters")]
DisplayName = Annotated[str, msgspec.Meta(max_length=100)]
Phone = Annotated[str, msgspec.Meta(max_length=32, examples=["+1 206 555 0100"])]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=40, examples=["home", "work"])]
Latitude = Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)]
Longitude = Annotated[float, msgspec.Meta(ge=-180.0, le=180.0)]
Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", max_length=64)]
NoticeVersion = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
Token = Annotated[str, msgspec.Meta(max_length=200)]


class RegisterIn(msgspec.Struct):
    email: Email
    password: NewPassword
    display_name: DisplayName = ""
    preferred_language: Language = "en"
    phone: Phone = ""


class AcceptedOut(msgspec.Struct):
    status: Literal["accepted"] = "accepted"
    detail: str = "If this address can be registered, the account is ready to sign in."


class TokenIn(msgspec.Struct):
    email: Annotated[str, msgspec.Meta(max_length=320)]
    password: Password


class RefreshIn(msgspec.Struct):
    refresh_token: Token


class TokenOut(msgspec.Struct):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"]
    expires_in: Annotated[int, msgspec.Meta(description="Seconds until the access token expires")]


class ProfileOut(msgspec.Struct):
    account_id: str
    email: str
    display_name: str
    preferred_language: Language
    phone: str
    role: Role
    department: str | None
    created_at: datetime


class ProfilePatch(msgspec.Struct, omit_defaults=True):
    display_name: DisplayName | None = None
    preferred_language: Language | None = None
    phone: Phone | None = None


class ErasureOut(msgspec.Struct):
    erasure_id: str
    status: Literal["accepted"] = "accepted"


class PlaceIn(msgspec.Struct):
    label: Label
    latitude: Latitude
    longitude: Longitude


class PlacePatch(msgspec.Struct, omit_defaults=True):
    label: Label | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None


class PlaceOut(msgspec.Struct):
    id: str
    label: str
    latitude: float
    longitude: float
    created_at: datetime


class PlacesOut(msgspec.Struct):
    items: list[PlaceOut]


class ConsentIn(msgspec.Struct):
    department: Slug
    purpose: Slug
    field: ConsentField
    notice_version: NoticeVersion


class ConsentOut(msgspec.Struct):
    id: str
    department: str
    purpose: str
    field: ConsentField
    granted: bool
    notice_version: str
    recorded_at: datetime


class ConsentsOut(msgspec.Struct):
    items: list[ConsentOut]


# -- GET /v1/me/export -----------------------------------------------------------------------------


class ExportedAccount(msgspec.Struct):
    id: str
    email: str | None
    display_name: str
    preferred_language: Language
    phone: str
    role: Role
    department: str | None
    created_at: datetime


class ExportedPlace(msgspec.Struct):
    id: str
    label: str
    latitude: float
    longitude: float


class ExportedConsent(msgspec.Struct):
    department: str
    purpose: str
    field: ConsentField
    granted: bool
    notice_version: str
    recorded_at: datetime


class ExportedSession(msgspec.Struct):
    created_at: datetime
    revoked_at: datetime | None


class IdentityExport(msgspec.Struct):
    """What identity holds about the caller (GDPR access)."""

    account: ExportedAccount
    places: list[ExportedPlace]
    consents: list[ExportedConsent]
    sessions: list[ExportedSession]


class ExportOut(msgspec.Struct, omit_defaults=True):
    """Each service's part of the caller's data; a service that holds none is absent."""

    identity: IdentityExport | None = None
    incidents: Annotated[
        dict[str, Any] | None, msgspec.Meta(description="Reports filed (with their contact) and follows")
    ] = None
    notifications: Annotated[
        dict[str, Any] | None,
        msgspec.Meta(description="Subscriptions, devices, preferences and notifications received"),
    ] = None


# -- GET /.well-known/jwks.json --------------------------------------------------------------------


class JwkOut(msgspec.Struct):
    """One public signing key (RFC 8037 OKP, Ed25519)."""

    kty: str
    crv: str
    x: str
    kid: str
    alg: str
    use: str


class JwksOut(msgspec.Struct):
    keys: list[JwkOut]


# -- conversions ---------------------------------------------------------------------------------


def tokens_out(pair: identity_pb2.TokenPair) -> TokenOut:
    return TokenOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        token_type="Bearer",
        expires_in=pair.expires_in,
    )


def _stamp(value: Any) -> datetime:
    stamp = from_timestamp(value)
    assert stamp is not None
    return stamp


def profile_out(p: identity_pb2.Profile) -> ProfileOut:
    return ProfileOut(
        account_id=p.account_id,
        email=p.email,
        display_name=p.display_name,
        preferred_language=p.preferred_language,  # type: ignore[arg-type]  # identity's vocabulary
        phone=p.phone,
        role=identity_pb2.Role.Name(p.role).removeprefix("ROLE_").lower(),  # type: ignore[arg-type]
        department=p.department or None,
        created_at=_stamp(p.created_at),
    )


def place_out(p: identity_pb2.Place) -> PlaceOut:
    return PlaceOut(id=p.id, label=p.label, latitude=p.latitude, longitude=p.longitude, created_at=_stamp(p.created_at))


def consent_out(c: identity_pb2.ConsentRecord) -> ConsentOut:
    return ConsentOut(
        id=c.id,
        department=c.department,
        purpose=c.purpose,
        field=c.field,  # type: ignore[arg-type]  # identity's vocabulary
        granted=c.granted,
        notice_version=c.notice_version,
        recorded_at=_stamp(c.recorded_at),
    )
