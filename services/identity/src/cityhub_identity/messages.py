"""Use-case results to protobuf messages (and the one table between role names and the enum)."""

from __future__ import annotations

from cityhub.identity.v1 import identity_pb2
from cityhub_sdk.auth import ROLE_OPERATOR, ROLE_RESIDENT, ROLE_STAFF
from cityhub_sdk.timestamps import to_timestamp

from cityhub_identity.models import Account, ConsentRecord, Place
from cityhub_identity.service.admin import ErasureStatus
from cityhub_identity.tokens import TokenPair

ROLES = {
    identity_pb2.ROLE_RESIDENT: ROLE_RESIDENT,
    identity_pb2.ROLE_STAFF: ROLE_STAFF,
    identity_pb2.ROLE_OPERATOR: ROLE_OPERATOR,
}
_ROLE_ENUMS = {name: value for value, name in ROLES.items()}


def role_name(role: identity_pb2.Role.ValueType) -> str:
    """The role a request names; "" for an unspecified or unknown one (the use case refuses it)."""
    return ROLES.get(role, "")


def token_pair_message(pair: TokenPair) -> identity_pb2.TokenPair:
    return identity_pb2.TokenPair(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        token_type=pair.token_type,
        expires_in=pair.expires_in,
    )


def profile_message(account: Account) -> identity_pb2.Profile:
    return identity_pb2.Profile(
        account_id=account.id,
        email=account.email or "",
        display_name=account.display_name,
        preferred_language=account.preferred_language,
        phone=account.phone,
        role=_ROLE_ENUMS.get(account.role, identity_pb2.ROLE_UNSPECIFIED),
        department=account.department or "",
        created_at=to_timestamp(account.created_at),
    )


def place_message(place: Place) -> identity_pb2.Place:
    return identity_pb2.Place(
        id=place.id,
        label=place.label,
        latitude=place.latitude,
        longitude=place.longitude,
        created_at=to_timestamp(place.created_at),
    )


def consent_message(record: ConsentRecord) -> identity_pb2.ConsentRecord:
    return identity_pb2.ConsentRecord(
        id=record.id,
        department=record.department,
        purpose=record.purpose,
        field=record.field,
        granted=record.granted,
        notice_version=record.notice_version,
        recorded_at=to_timestamp(record.recorded_at),
    )


def erasure_status_message(status: ErasureStatus) -> identity_pb2.GetErasureStatusResponse:
    return identity_pb2.GetErasureStatusResponse(
        erasure_id=status.erasure_id,
        expected_services=status.expected,
        confirmed_services=status.confirmed,
        complete=status.completed_at is not None,
        requested_at=to_timestamp(status.requested_at),
        completed_at=to_timestamp(status.completed_at),
    )
