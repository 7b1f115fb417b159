"""Identity routes: sign-up, tokens, the resident's profile, saved places, consents, export, erasure."""

from __future__ import annotations

import importlib
import json
from typing import Annotated, Any

import grpc
import msgspec
from cityhub.identity.v1 import identity_pb2
from cityhub_sdk.auth import Caller
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT
from litestar.types import ControllerRouterHandler

from cityhub_gateway.auth import Authenticator
from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.identity_schemas import (
    AcceptedOut,
    ConsentIn,
    ConsentOut,
    ConsentsOut,
    ErasureOut,
    ExportOut,
    IdentityExport,
    JwksOut,
    PlaceIn,
    PlaceOut,
    PlacePatch,
    PlacesOut,
    ProfileOut,
    ProfilePatch,
    RefreshIn,
    RegisterIn,
    TokenIn,
    TokenOut,
    consent_out,
    place_out,
    profile_out,
    tokens_out,
)
from cityhub_gateway.openapi import problems
from cityhub_gateway.params import ObjectId
from cityhub_gateway.quotas import auth_quotas

# Services whose `ExportAccountData` RPC contributes to GET /v1/me/export, when the stub exists.
EXPORTING_SERVICES = ("identity", "incidents", "notifications")
JWK_SET = "application/jwk-set+json"
# Tokens must never be kept by a browser or proxy cache.
NO_STORE = CacheControlHeader(no_store=True)


async def _export_of(clients: ServiceClients, name: str, caller: Caller) -> str | None:
    """One service's export document (JSON text), or None when it has no export."""
    method = getattr(getattr(clients, name, None), "ExportAccountData", None)
    if method is None:
        return None
    messages = importlib.import_module(f"cityhub.{name}.v1.{name}_pb2")
    try:
        response = await method(messages.ExportAccountDataRequest(), metadata=caller.metadata(), timeout=10)
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
            return None
        raise
    return str(response.json or "{}")


# ---- routes -----------------------------------------------------------------------------------
class AuthController(Controller):
    path = "/v1/auth"
    tags = ["identity"]

    @post(
        "/register",
        operation_id="register",
        status_code=HTTP_202_ACCEPTED,
        summary="Create a resident account",
    )
    async def register(
        self, data: JSONBody[RegisterIn], clients: NamedDependency[ServiceClients], request: Request[Any, Any, Any]
    ) -> AcceptedOut:
        """The same answer whether or not the address already has an account."""
        auth_quotas(request).check("register", request, data.email)
        await clients.identity.RegisterAccount(
            identity_pb2.RegisterAccountRequest(
                email=data.email,
                password=data.password,
                display_name=data.display_name,
                preferred_language=data.preferred_language,
                phone=data.phone,
            )
        )
        return AcceptedOut()

    @post(
        "/token",
        operation_id="signIn",
        status_code=200,
        summary="Sign in with email and password",
        cache_control=NO_STORE,
        responses=problems(401),  # wrong credentials, or a refresh token that is spent or revoked
    )
    async def token(
        self, data: JSONBody[TokenIn], clients: NamedDependency[ServiceClients], request: Request[Any, Any, Any]
    ) -> TokenOut:
        auth_quotas(request).check("sign-in", request, data.email)
        response = await clients.identity.CreateToken(
            identity_pb2.CreateTokenRequest(email=data.email, password=data.password)
        )
        return tokens_out(response.tokens)

    @post(
        "/refresh",
        operation_id="refreshToken",
        status_code=200,
        summary="Exchange a refresh token (it rotates)",
        cache_control=NO_STORE,
        responses=problems(401),  # wrong credentials, or a refresh token that is spent or revoked
    )
    async def refresh(
        self, data: JSONBody[RefreshIn], clients: NamedDependency[ServiceClients], request: Request[Any, Any, Any]
    ) -> TokenOut:
        auth_quotas(request).check_refresh(data.refresh_token)
        response = await clients.identity.RefreshToken(
            identity_pb2.RefreshTokenRequest(refresh_token=data.refresh_token)
        )
        return tokens_out(response.tokens)

    @post(
        "/logout",
        operation_id="signOut",
        status_code=HTTP_204_NO_CONTENT,
        summary="Sign out: revoke the session",
        responses=problems(401),  # wrong credentials, or a refresh token that is spent or revoked
    )
    async def logout(
        self, data: JSONBody[RefreshIn], clients: NamedDependency[ServiceClients], request: Request[Any, Any, Any]
    ) -> None:
        auth_quotas(request).check_refresh(data.refresh_token)
        await clients.identity.RevokeToken(identity_pb2.RevokeTokenRequest(refresh_token=data.refresh_token))


class MeController(Controller):
    path = "/v1/me"
    tags = ["identity"]

    @get("/", operation_id="getProfile", summary="My profile")
    async def get_profile(
        self, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> ProfileOut:
        response = await clients.identity.GetProfile(identity_pb2.GetProfileRequest(), metadata=caller.metadata())
        return profile_out(response.profile)

    @patch("/", operation_id="updateProfile", summary="Change my display name, language or phone")
    async def update_profile(
        self, data: JSONBody[ProfilePatch], clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> ProfileOut:
        fields = [name for name in ("display_name", "preferred_language", "phone") if getattr(data, name) is not None]
        response = await clients.identity.UpdateProfile(
            identity_pb2.UpdateProfileRequest(
                display_name=data.display_name or "",
                preferred_language=data.preferred_language or "",
                phone=data.phone or "",
                update_fields=fields,
            ),
            metadata=caller.metadata(),
        )
        return profile_out(response.profile)

    @delete(
        "/",
        operation_id="deleteAccount",
        status_code=HTTP_202_ACCEPTED,
        summary="Delete my account and erase my data everywhere",
    )
    async def delete_account(
        self, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> ErasureOut:
        response = await clients.identity.DeleteAccount(identity_pb2.DeleteAccountRequest(), metadata=caller.metadata())
        return ErasureOut(erasure_id=response.erasure_id)

    @get("/export", operation_id="exportMyData", summary="Everything CityHub holds about me, from every service")
    async def export(self, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]) -> ExportOut:
        parts: dict[str, Any] = {}
        for name in EXPORTING_SERVICES:
            document = await _export_of(clients, name, caller)
            if document is None:
                continue
            if name == "identity":
                parts[name] = msgspec.json.decode(document, type=IdentityExport)
            else:
                parts[name] = json.loads(document)
        return ExportOut(**parts)

    @get("/places", operation_id="listPlaces", summary="My saved places")
    async def list_places(self, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]) -> PlacesOut:
        response = await clients.identity.ListPlaces(identity_pb2.ListPlacesRequest(), metadata=caller.metadata())
        return PlacesOut(items=[place_out(p) for p in response.places])

    @post("/places", operation_id="createPlace", summary="Save a place (home, work or my own label; at most 10)")
    async def create_place(
        self, data: JSONBody[PlaceIn], clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> PlaceOut:
        response = await clients.identity.CreatePlace(
            identity_pb2.CreatePlaceRequest(label=data.label, latitude=data.latitude, longitude=data.longitude),
            metadata=caller.metadata(),
        )
        return place_out(response.place)

    @patch("/places/{place_id:str}", operation_id="updatePlace", summary="Rename or move a saved place")
    async def update_place(
        self,
        place_id: ObjectId,
        data: JSONBody[PlacePatch],
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
    ) -> PlaceOut:
        response = await clients.identity.UpdatePlace(
            identity_pb2.UpdatePlaceRequest(
                place_id=place_id,
                label=data.label or "",
                latitude=data.latitude or 0.0,
                longitude=data.longitude or 0.0,
            ),
            metadata=caller.metadata(),
        )
        return place_out(response.place)

    @delete(
        "/places/{place_id:str}",
        operation_id="deletePlace",
        status_code=HTTP_204_NO_CONTENT,
        summary="Forget a saved place",
    )
    async def delete_place(
        self, place_id: ObjectId, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> None:
        await clients.identity.DeletePlace(
            identity_pb2.DeletePlaceRequest(place_id=place_id), metadata=caller.metadata()
        )

    @get("/consents", operation_id="listConsents", summary="What I share with which department (or the full history)")
    async def list_consents(
        self,
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
        history: Annotated[
            bool, QueryParameter(name="history", required=False, description="Every grant and withdrawal")
        ] = False,
    ) -> ConsentsOut:
        response = await clients.identity.ListConsents(
            identity_pb2.ListConsentsRequest(include_history=history), metadata=caller.metadata()
        )
        return ConsentsOut(items=[consent_out(c) for c in response.consents])

    @post("/consents", operation_id="grantConsent", summary="Share a field with a department for a purpose")
    async def grant_consent(
        self, data: JSONBody[ConsentIn], clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> ConsentOut:
        response = await clients.identity.GrantConsent(
            identity_pb2.GrantConsentRequest(
                department=data.department, purpose=data.purpose, field=data.field, notice_version=data.notice_version
            ),
            metadata=caller.metadata(),
        )
        return consent_out(response.consent)

    @delete(
        "/consents/{department:str}/{purpose:str}/{field:str}",
        operation_id="withdrawConsent",
        status_code=200,
        summary="Withdraw a consent",
    )
    async def withdraw_consent(
        self,
        department: ObjectId,
        purpose: ObjectId,
        field: ObjectId,
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
    ) -> ConsentOut:
        response = await clients.identity.WithdrawConsent(
            identity_pb2.WithdrawConsentRequest(department=department, purpose=purpose, field=field),
            metadata=caller.metadata(),
        )
        return consent_out(response.consent)


class JwksController(Controller):
    path = "/.well-known/jwks.json"
    tags = ["identity"]

    @get("/", operation_id="getJwks", summary="Public keys that sign CityHub access tokens", media_type=JWK_SET)
    async def jwks(self, request: Request[Any, Any, Any]) -> Response[JwksOut]:
        authenticator: Authenticator = request.app.state.authenticator
        return Response(
            msgspec.convert(await authenticator.jwks(), JwksOut),
            media_type=JWK_SET,
            headers={"Cache-Control": "public, max-age=60"},
        )


IDENTITY_ROUTES: list[ControllerRouterHandler] = [AuthController, MeController, JwksController]
