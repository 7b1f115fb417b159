"""The gRPC face of identity: check the caller, translate messages, call a use case, map errors."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub_sdk.auth import (
    ROLE_DEPARTMENT,
    ROLE_OPERATOR,
    ROLE_RESIDENT,
    ROLE_SERVICE,
    ROLE_STAFF,
    Caller,
    require,
)
from cityhub_sdk.timestamps import to_timestamp

from cityhub_identity.admin import AdminService
from cityhub_identity.errors import IdentityError
from cityhub_identity.keys import KeyStore
from cityhub_identity.models import Account, ConsentRecord, Place
from cityhub_identity.residents import PROFILE_FIELDS, ProfileChange, ResidentService
from cityhub_identity.sessions import SessionService
from cityhub_identity.tokens import TokenPair

T = TypeVar("T")
PEOPLE = (ROLE_RESIDENT, ROLE_STAFF, ROLE_OPERATOR)
ROLES = {
    identity_pb2.ROLE_RESIDENT: ROLE_RESIDENT,
    identity_pb2.ROLE_STAFF: ROLE_STAFF,
    identity_pb2.ROLE_OPERATOR: ROLE_OPERATOR,
}


def _pair(pair: TokenPair) -> identity_pb2.TokenPair:
    return identity_pb2.TokenPair(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        token_type=pair.token_type,
        expires_in=pair.expires_in,
    )


def _profile(account: Account) -> identity_pb2.Profile:
    role = {v: k for k, v in ROLES.items()}.get(account.role, identity_pb2.ROLE_UNSPECIFIED)
    return identity_pb2.Profile(
        account_id=account.id,
        email=account.email or "",
        display_name=account.display_name,
        preferred_language=account.preferred_language,
        phone=account.phone,
        role=role,
        department=account.department or "",
        created_at=to_timestamp(account.created_at),
    )


def _place(place: Place) -> identity_pb2.Place:
    return identity_pb2.Place(
        id=place.id,
        label=place.label,
        latitude=place.latitude,
        longitude=place.longitude,
        created_at=to_timestamp(place.created_at),
    )


def _consent(record: ConsentRecord) -> identity_pb2.ConsentRecord:
    return identity_pb2.ConsentRecord(
        id=record.id,
        department=record.department,
        purpose=record.purpose,
        field=record.field,
        granted=record.granted,
        notice_version=record.notice_version,
        recorded_at=to_timestamp(record.recorded_at),
    )


async def _call(context: grpc.aio.ServicerContext, work: Callable[[], Awaitable[T]]) -> T:
    try:
        return await work()
    except IdentityError as exc:
        await context.abort(exc.code, exc.detail)
        raise  # unreachable: abort raises


async def _person(context: grpc.aio.ServicerContext) -> str:
    caller = await require(context, *PEOPLE)
    assert caller.subject is not None
    return caller.subject


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(
        self, sessions: SessionService, residents: ResidentService, admin: AdminService, keys: KeyStore
    ) -> None:
        self.sessions = sessions
        self.residents = residents
        self.admin = admin
        self.keys = keys

    # public ----------------------------------------------------------------------------------
    async def RegisterAccount(
        self, request: identity_pb2.RegisterAccountRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.RegisterAccountResponse:
        await _call(
            context,
            lambda: self.sessions.register(
                email=request.email,
                password=request.password,
                display_name=request.display_name,
                preferred_language=request.preferred_language,
                phone=request.phone,
            ),
        )
        return identity_pb2.RegisterAccountResponse()

    async def CreateToken(
        self, request: identity_pb2.CreateTokenRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.CreateTokenResponse:
        pair = await _call(context, lambda: self.sessions.sign_in(request.email, request.password))
        return identity_pb2.CreateTokenResponse(tokens=_pair(pair))

    async def RefreshToken(
        self, request: identity_pb2.RefreshTokenRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.RefreshTokenResponse:
        pair = await _call(context, lambda: self.sessions.refresh(request.refresh_token))
        return identity_pb2.RefreshTokenResponse(tokens=_pair(pair))

    async def RevokeToken(
        self, request: identity_pb2.RevokeTokenRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.RevokeTokenResponse:
        await _call(context, lambda: self.sessions.revoke(request.refresh_token))
        return identity_pb2.RevokeTokenResponse()

    async def GetJwks(
        self, request: identity_pb2.GetJwksRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.GetJwksResponse:
        return identity_pb2.GetJwksResponse(jwks_json=json.dumps(await self.keys.jwks()))

    async def ListRevokedSessions(
        self, request: identity_pb2.ListRevokedSessionsRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.ListRevokedSessionsResponse:
        return identity_pb2.ListRevokedSessionsResponse(session_ids=await self.sessions.revoked_session_ids())

    # internal --------------------------------------------------------------------------------
    async def VerifyApiKey(
        self, request: identity_pb2.VerifyApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.VerifyApiKeyResponse:
        await require(context, ROLE_SERVICE)
        row = await self.admin.verify_api_key(request.key)
        if row is None:
            return identity_pb2.VerifyApiKeyResponse(valid=False)
        return identity_pb2.VerifyApiKeyResponse(valid=True, key_id=row.id, department=row.department)

    async def GetAccountContact(
        self, request: identity_pb2.GetAccountContactRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.GetAccountContactResponse:
        await require(context, ROLE_SERVICE)
        account = await _call(context, lambda: self.admin.contact(request.account_id))
        return identity_pb2.GetAccountContactResponse(
            email=account.email or "",
            display_name=account.display_name,
            preferred_language=account.preferred_language,
        )

    async def GetPlace(
        self, request: identity_pb2.GetPlaceRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.GetPlaceResponse:
        await require(context, ROLE_SERVICE)
        place = await _call(context, lambda: self.admin.place(request.account_id, request.place_id))
        return identity_pb2.GetPlaceResponse(place=_place(place))

    async def GetPseudonym(
        self, request: identity_pb2.GetPseudonymRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.GetPseudonymResponse:
        await require(context, ROLE_SERVICE)
        value = await _call(context, lambda: self.admin.pseudonym(request.account_id, request.department))
        return identity_pb2.GetPseudonymResponse(pseudonym=value)

    async def CheckConsent(
        self, request: identity_pb2.CheckConsentRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.CheckConsentResponse:
        caller: Caller = await require(context, ROLE_SERVICE, ROLE_DEPARTMENT)
        by_pseudonym = caller.role == ROLE_DEPARTMENT
        if by_pseudonym and request.department != caller.department:
            await context.abort(grpc.StatusCode.NOT_FOUND, "resident not found")
        granted = await _call(
            context,
            lambda: self.admin.check_consent(
                resident=request.resident,
                department=request.department,
                purpose=request.purpose,
                field=request.field,
                by_pseudonym=by_pseudonym,
            ),
        )
        return identity_pb2.CheckConsentResponse(granted=granted)

    async def CreateAccount(
        self, request: identity_pb2.CreateAccountRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.CreateAccountResponse:
        await require(context, ROLE_SERVICE)
        if request.role not in ROLES:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "role must be resident, staff or operator")
        account_id, created = await _call(
            context,
            lambda: self.sessions.create_account(
                email=request.email,
                password=request.password,
                role=ROLES[request.role],
                department=request.department or None,
                display_name=request.display_name,
                preferred_language=request.preferred_language,
            ),
        )
        return identity_pb2.CreateAccountResponse(account_id=account_id, created=created)

    async def CreateApiKey(
        self, request: identity_pb2.CreateApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.CreateApiKeyResponse:
        await require(context, ROLE_SERVICE, ROLE_OPERATOR)
        key_id, key = await _call(context, lambda: self.admin.create_api_key(request.department, request.label))
        return identity_pb2.CreateApiKeyResponse(key_id=key_id, key=key)

    async def RevokeApiKey(
        self, request: identity_pb2.RevokeApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.RevokeApiKeyResponse:
        await require(context, ROLE_SERVICE, ROLE_OPERATOR)
        await _call(context, lambda: self.admin.revoke_api_key(request.key_id))
        return identity_pb2.RevokeApiKeyResponse()

    async def GetErasureStatus(
        self, request: identity_pb2.GetErasureStatusRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.GetErasureStatusResponse:
        await require(context, ROLE_SERVICE, ROLE_OPERATOR)
        status = await _call(context, lambda: self.admin.erasure_status(request.account_id))
        return identity_pb2.GetErasureStatusResponse(
            erasure_id=status.erasure_id,
            expected_services=status.expected,
            confirmed_services=status.confirmed,
            complete=status.completed_at is not None,
            requested_at=to_timestamp(status.requested_at),
            completed_at=to_timestamp(status.completed_at),
        )

    # the caller's own data -------------------------------------------------------------------
    async def GetProfile(
        self, request: identity_pb2.GetProfileRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.GetProfileResponse:
        account_id = await _person(context)
        account = await _call(context, lambda: self.residents.profile(account_id))
        return identity_pb2.GetProfileResponse(profile=_profile(account))

    async def UpdateProfile(
        self, request: identity_pb2.UpdateProfileRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.UpdateProfileResponse:
        account_id = await _person(context)
        unknown = set(request.update_fields) - set(PROFILE_FIELDS)
        if unknown:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"cannot update {', '.join(sorted(unknown))}")
        fields = set(request.update_fields)
        change = ProfileChange(
            display_name=request.display_name if "display_name" in fields else None,
            preferred_language=request.preferred_language if "preferred_language" in fields else None,
            phone=request.phone if "phone" in fields else None,
        )
        account = await _call(context, lambda: self.residents.update_profile(account_id, change))
        return identity_pb2.UpdateProfileResponse(profile=_profile(account))

    async def DeleteAccount(
        self, request: identity_pb2.DeleteAccountRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.DeleteAccountResponse:
        account_id = await _person(context)
        erasure_id = await _call(context, lambda: self.residents.delete_account(account_id))
        return identity_pb2.DeleteAccountResponse(erasure_id=erasure_id)

    async def ExportAccountData(
        self, request: identity_pb2.ExportAccountDataRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.ExportAccountDataResponse:
        account_id = await _person(context)
        data: dict[str, Any] = await _call(context, lambda: self.residents.export(account_id))
        return identity_pb2.ExportAccountDataResponse(json=json.dumps(data))

    async def ListPlaces(
        self, request: identity_pb2.ListPlacesRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.ListPlacesResponse:
        account_id = await _person(context)
        places = await self.residents.places(account_id)
        return identity_pb2.ListPlacesResponse(places=[_place(p) for p in places])

    async def CreatePlace(
        self, request: identity_pb2.CreatePlaceRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.CreatePlaceResponse:
        account_id = await _person(context)
        place = await _call(
            context, lambda: self.residents.create_place(account_id, request.label, request.latitude, request.longitude)
        )
        return identity_pb2.CreatePlaceResponse(place=_place(place))

    async def UpdatePlace(
        self, request: identity_pb2.UpdatePlaceRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.UpdatePlaceResponse:
        account_id = await _person(context)
        moved = request.latitude != 0 or request.longitude != 0
        place = await _call(
            context,
            lambda: self.residents.update_place(
                account_id,
                request.place_id,
                request.label or None,
                request.latitude if moved else None,
                request.longitude if moved else None,
            ),
        )
        return identity_pb2.UpdatePlaceResponse(place=_place(place))

    async def DeletePlace(
        self, request: identity_pb2.DeletePlaceRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.DeletePlaceResponse:
        account_id = await _person(context)
        await _call(context, lambda: self.residents.delete_place(account_id, request.place_id))
        return identity_pb2.DeletePlaceResponse()

    async def ListConsents(
        self, request: identity_pb2.ListConsentsRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.ListConsentsResponse:
        account_id = await _person(context)
        records = await self.residents.consents(account_id, history=request.include_history)
        return identity_pb2.ListConsentsResponse(consents=[_consent(r) for r in records])

    async def GrantConsent(
        self, request: identity_pb2.GrantConsentRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.GrantConsentResponse:
        account_id = await _person(context)
        record = await _call(
            context,
            lambda: self.residents.record_consent(
                account_id,
                department=request.department,
                purpose=request.purpose,
                field=request.field,
                granted=True,
                notice_version=request.notice_version,
            ),
        )
        return identity_pb2.GrantConsentResponse(consent=_consent(record))

    async def WithdrawConsent(
        self, request: identity_pb2.WithdrawConsentRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.WithdrawConsentResponse:
        account_id = await _person(context)
        record = await _call(
            context,
            lambda: self.residents.record_consent(
                account_id,
                department=request.department,
                purpose=request.purpose,
                field=request.field,
                granted=False,
                notice_version="",
            ),
        )
        return identity_pb2.WithdrawConsentResponse(consent=_consent(record))
