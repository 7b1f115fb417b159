"""The gRPC face of identity: check the caller's role, decode the request, call a use case, encode.

Use-case errors are the SDK's (sign-in failures identity's one generic `Unauthenticated`); the
interceptor the SDK installs on every server maps them to statuses, so no handler catches anything.
"""

from __future__ import annotations

import json

import grpc
from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub_sdk.auth import ROLE_DEPARTMENT, ROLE_OPERATOR, ROLE_RESIDENT, ROLE_SERVICE, ROLE_STAFF, require

from cityhub_identity.keys import KeyStore
from cityhub_identity.messages import (
    consent_message,
    erasure_status_message,
    place_message,
    profile_message,
    role_name,
    token_pair_message,
)
from cityhub_identity.service.admin import AdminService
from cityhub_identity.service.residents import ProfileChange, ResidentService
from cityhub_identity.service.sessions import SessionService

PEOPLE = (ROLE_RESIDENT, ROLE_STAFF, ROLE_OPERATOR)


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
        await self.sessions.register(
            email=request.email,
            password=request.password,
            display_name=request.display_name,
            preferred_language=request.preferred_language,
            phone=request.phone,
        )
        return identity_pb2.RegisterAccountResponse()

    async def CreateToken(
        self, request: identity_pb2.CreateTokenRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.CreateTokenResponse:
        pair = await self.sessions.sign_in(request.email, request.password)
        return identity_pb2.CreateTokenResponse(tokens=token_pair_message(pair))

    async def RefreshToken(
        self, request: identity_pb2.RefreshTokenRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.RefreshTokenResponse:
        pair = await self.sessions.refresh(request.refresh_token)
        return identity_pb2.RefreshTokenResponse(tokens=token_pair_message(pair))

    async def RevokeToken(
        self, request: identity_pb2.RevokeTokenRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.RevokeTokenResponse:
        await self.sessions.revoke(request.refresh_token)
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
        account = await self.admin.contact(request.account_id)
        return identity_pb2.GetAccountContactResponse(
            email=account.email or "",
            display_name=account.display_name,
            preferred_language=account.preferred_language,
        )

    async def GetPlace(
        self, request: identity_pb2.GetPlaceRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.GetPlaceResponse:
        await require(context, ROLE_SERVICE)
        place = await self.admin.place(request.account_id, request.place_id)
        return identity_pb2.GetPlaceResponse(place=place_message(place))

    async def GetPseudonym(
        self, request: identity_pb2.GetPseudonymRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.GetPseudonymResponse:
        await require(context, ROLE_SERVICE)
        value = await self.admin.pseudonym(request.account_id, request.department)
        return identity_pb2.GetPseudonymResponse(pseudonym=value)

    async def CheckConsent(
        self, request: identity_pb2.CheckConsentRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.CheckConsentResponse:
        caller = await require(context, ROLE_SERVICE, ROLE_DEPARTMENT)
        granted = await self.admin.check_consent(
            caller,
            resident=request.resident,
            department=request.department,
            purpose=request.purpose,
            field=request.field,
        )
        return identity_pb2.CheckConsentResponse(granted=granted)

    async def CreateAccount(
        self, request: identity_pb2.CreateAccountRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.CreateAccountResponse:
        await require(context, ROLE_SERVICE)
        account_id, created = await self.sessions.create_account(
            email=request.email,
            password=request.password,
            role=role_name(request.role),
            department=request.department or None,
            display_name=request.display_name,
            preferred_language=request.preferred_language,
        )
        return identity_pb2.CreateAccountResponse(account_id=account_id, created=created)

    async def CreateApiKey(
        self, request: identity_pb2.CreateApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.CreateApiKeyResponse:
        await require(context, ROLE_SERVICE, ROLE_OPERATOR)
        key_id, key = await self.admin.create_api_key(request.department, request.label)
        return identity_pb2.CreateApiKeyResponse(key_id=key_id, key=key)

    async def RevokeApiKey(
        self, request: identity_pb2.RevokeApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.RevokeApiKeyResponse:
        await require(context, ROLE_SERVICE, ROLE_OPERATOR)
        await self.admin.revoke_api_key(request.key_id)
        return identity_pb2.RevokeApiKeyResponse()

    async def GetErasureStatus(
        self, request: identity_pb2.GetErasureStatusRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.GetErasureStatusResponse:
        await require(context, ROLE_SERVICE, ROLE_OPERATOR)
        return erasure_status_message(await self.admin.erasure_status(request.account_id))

    # the caller's own data -------------------------------------------------------------------
    async def GetProfile(
        self, request: identity_pb2.GetProfileRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.GetProfileResponse:
        account = await self.residents.profile(await _person(context))
        return identity_pb2.GetProfileResponse(profile=profile_message(account))

    async def UpdateProfile(
        self, request: identity_pb2.UpdateProfileRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.UpdateProfileResponse:
        account_id = await _person(context)
        change = ProfileChange.of(
            request.update_fields,
            {
                "display_name": request.display_name,
                "preferred_language": request.preferred_language,
                "phone": request.phone,
            },
        )
        account = await self.residents.update_profile(account_id, change)
        return identity_pb2.UpdateProfileResponse(profile=profile_message(account))

    async def DeleteAccount(
        self, request: identity_pb2.DeleteAccountRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.DeleteAccountResponse:
        erasure_id = await self.residents.delete_account(await _person(context))
        return identity_pb2.DeleteAccountResponse(erasure_id=erasure_id)

    async def ExportAccountData(
        self, request: identity_pb2.ExportAccountDataRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.ExportAccountDataResponse:
        data = await self.residents.export(await _person(context))
        return identity_pb2.ExportAccountDataResponse(json=json.dumps(data))

    async def ListPlaces(
        self, request: identity_pb2.ListPlacesRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.ListPlacesResponse:
        places = await self.residents.places(await _person(context))
        return identity_pb2.ListPlacesResponse(places=[place_message(p) for p in places])

    async def CreatePlace(
        self, request: identity_pb2.CreatePlaceRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.CreatePlaceResponse:
        account_id = await _person(context)
        place = await self.residents.create_place(account_id, request.label, request.latitude, request.longitude)
        return identity_pb2.CreatePlaceResponse(place=place_message(place))

    async def UpdatePlace(
        self, request: identity_pb2.UpdatePlaceRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.UpdatePlaceResponse:
        account_id = await _person(context)
        moved = request.latitude != 0 or request.longitude != 0
        place = await self.residents.update_place(
            account_id,
            request.place_id,
            request.label or None,
            request.latitude if moved else None,
            request.longitude if moved else None,
        )
        return identity_pb2.UpdatePlaceResponse(place=place_message(place))

    async def DeletePlace(
        self, request: identity_pb2.DeletePlaceRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.DeletePlaceResponse:
        await self.residents.delete_place(await _person(context), request.place_id)
        return identity_pb2.DeletePlaceResponse()

    async def ListConsents(
        self, request: identity_pb2.ListConsentsRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.ListConsentsResponse:
        records = await self.residents.consents(await _person(context), history=request.include_history)
        return identity_pb2.ListConsentsResponse(consents=[consent_message(r) for r in records])

    async def GrantConsent(
        self, request: identity_pb2.GrantConsentRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.GrantConsentResponse:
        record = await self.residents.record_consent(
            await _person(context),
            department=request.department,
            purpose=request.purpose,
            field=request.field,
            granted=True,
            notice_version=request.notice_version,
        )
        return identity_pb2.GrantConsentResponse(consent=consent_message(record))

    async def WithdrawConsent(
        self, request: identity_pb2.WithdrawConsentRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.WithdrawConsentResponse:
        record = await self.residents.record_consent(
            await _person(context),
            department=request.department,
            purpose=request.purpose,
            field=request.field,
            granted=False,
            notice_version="",
        )
        return identity_pb2.WithdrawConsentResponse(consent=consent_message(record))
