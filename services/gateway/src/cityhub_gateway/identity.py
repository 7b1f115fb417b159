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
from litestar.di import NamedDependency
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT
from litestar.types import ControllerRouterHandler

from cityhub_gateway.auth import Authenticator
from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.config import GatewaySettings

# Services whose `ExportAccountData` RPC contributes to GET /v1/me/export, when the stub exists.
EXPORTING_SERVICES = ("identity", "incidents", "notifications")


def _client_address(request: Request[Any, Any, Any]) -> str:
    return f"auth::{request.client.host if request.client else 'unknown'}"


def _is_auth_route(request: Request[Any, Any, Any]) -> bool:
    return request.url.path.startswith("/v1/auth/")


def auth_rate_limit(settings: GatewaySettings) -> RateLimitConfig:
    """Per client address on /v1/auth/*; kept in memory, so each gateway replica counts alone."""
    return RateLimitConfig(
        rate_limit=("minute", settings.auth_rate_limit_per_minute),
        identifier_for_request=_client_address,
        check_throttle_handler=_is_auth_route,
        store="auth_rate_limit",
    )


# ---- DTOs -------------------------------------------------------------------------------------
class RegisterIn(msgspec.Struct):
    email: str
    password: str
    display_name: str = ""
    preferred_language: str = "en"
    phone: str = ""


class AcceptedOut(msgspec.Struct):
    status: str = "accepted"
    detail: str = "If this address can be registered, the account is ready to sign in."


class TokenIn(msgspec.Struct):
    email: str
    password: str


class RefreshIn(msgspec.Struct):
    refresh_token: str


class TokenOut(msgspec.Struct):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


class ProfileOut(msgspec.Struct):
    account_id: str
    email: str
    display_name: str
    preferred_language: str
    phone: str
    role: str
    department: str | None
    created_at: str


class ProfilePatch(msgspec.Struct, omit_defaults=True):
    display_name: str | None = None
    preferred_language: str | None = None
    phone: str | None = None


class ErasureOut(msgspec.Struct):
    erasure_id: str
    status: str = "accepted"


class PlaceIn(msgspec.Struct):
    label: str
    latitude: float
    longitude: float


class PlacePatch(msgspec.Struct, omit_defaults=True):
    label: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class PlaceOut(msgspec.Struct):
    id: str
    label: str
    latitude: float
    longitude: float
    created_at: str


class PlacesOut(msgspec.Struct):
    items: list[PlaceOut]


class ConsentIn(msgspec.Struct):
    department: str
    purpose: str
    field: str
    notice_version: str


class ConsentOut(msgspec.Struct):
    id: str
    department: str
    purpose: str
    field: str
    granted: bool
    notice_version: str
    recorded_at: str


class ConsentsOut(msgspec.Struct):
    items: list[ConsentOut]


def _tokens(pair: identity_pb2.TokenPair) -> TokenOut:
    return TokenOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        token_type=pair.token_type,
        expires_in=pair.expires_in,
    )


def _profile(p: identity_pb2.Profile) -> ProfileOut:
    return ProfileOut(
        account_id=p.account_id,
        email=p.email,
        display_name=p.display_name,
        preferred_language=p.preferred_language,
        phone=p.phone,
        role=identity_pb2.Role.Name(p.role).removeprefix("ROLE_").lower(),
        department=p.department or None,
        created_at=p.created_at.ToDatetime().isoformat() + "Z",
    )


def _place(p: identity_pb2.Place) -> PlaceOut:
    return PlaceOut(
        id=p.id,
        label=p.label,
        latitude=p.latitude,
        longitude=p.longitude,
        created_at=p.created_at.ToDatetime().isoformat() + "Z",
    )


def _consent(c: identity_pb2.ConsentRecord) -> ConsentOut:
    return ConsentOut(
        id=c.id,
        department=c.department,
        purpose=c.purpose,
        field=c.field,
        granted=c.granted,
        notice_version=c.notice_version,
        recorded_at=c.recorded_at.ToDatetime().isoformat() + "Z",
    )


# ---- routes -----------------------------------------------------------------------------------
class AuthController(Controller):
    path = "/v1/auth"
    tags = ["identity"]

    @post("/register", status_code=HTTP_202_ACCEPTED, summary="Create a resident account")
    async def register(self, data: JSONBody[RegisterIn], clients: NamedDependency[ServiceClients]) -> AcceptedOut:
        """The same answer whether or not the address already has an account."""
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

    @post("/token", status_code=200, summary="Sign in with email and password")
    async def token(self, data: JSONBody[TokenIn], clients: NamedDependency[ServiceClients]) -> TokenOut:
        response = await clients.identity.CreateToken(
            identity_pb2.CreateTokenRequest(email=data.email, password=data.password)
        )
        return _tokens(response.tokens)

    @post("/refresh", status_code=200, summary="Exchange a refresh token (it rotates)")
    async def refresh(self, data: JSONBody[RefreshIn], clients: NamedDependency[ServiceClients]) -> TokenOut:
        response = await clients.identity.RefreshToken(
            identity_pb2.RefreshTokenRequest(refresh_token=data.refresh_token)
        )
        return _tokens(response.tokens)

    @post("/logout", status_code=HTTP_204_NO_CONTENT, summary="Sign out: revoke the session")
    async def logout(self, data: JSONBody[RefreshIn], clients: NamedDependency[ServiceClients]) -> None:
        await clients.identity.RevokeToken(identity_pb2.RevokeTokenRequest(refresh_token=data.refresh_token))


class MeController(Controller):
    path = "/v1/me"
    tags = ["identity"]

    @get("/", summary="My profile")
    async def get_profile(
        self, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> ProfileOut:
        response = await clients.identity.GetProfile(identity_pb2.GetProfileRequest(), metadata=caller.metadata())
        return _profile(response.profile)

    @patch("/", summary="Change my display name, language or phone")
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
        return _profile(response.profile)

    @delete("/", status_code=HTTP_202_ACCEPTED, summary="Delete my account and erase my data everywhere")
    async def delete_account(
        self, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> ErasureOut:
        response = await clients.identity.DeleteAccount(identity_pb2.DeleteAccountRequest(), metadata=caller.metadata())
        return ErasureOut(erasure_id=response.erasure_id)

    @get("/export", summary="Everything CityHub holds about me, from every service")
    async def export(self, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name in EXPORTING_SERVICES:
            method = getattr(getattr(clients, name, None), "ExportAccountData", None)
            if method is None:
                continue
            messages = importlib.import_module(f"cityhub.{name}.v1.{name}_pb2")
            request_type = messages.ExportAccountDataRequest
            try:
                response = await method(request_type(), metadata=caller.metadata(), timeout=10)
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                    continue
                raise
            result[name] = json.loads(response.json or "{}")
        return result

    @get("/places", summary="My saved places")
    async def list_places(self, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]) -> PlacesOut:
        response = await clients.identity.ListPlaces(identity_pb2.ListPlacesRequest(), metadata=caller.metadata())
        return PlacesOut(items=[_place(p) for p in response.places])

    @post("/places", summary="Save a place (home, work or my own label; at most 10)")
    async def create_place(
        self, data: JSONBody[PlaceIn], clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> PlaceOut:
        response = await clients.identity.CreatePlace(
            identity_pb2.CreatePlaceRequest(label=data.label, latitude=data.latitude, longitude=data.longitude),
            metadata=caller.metadata(),
        )
        return _place(response.place)

    @patch("/places/{place_id:str}", summary="Rename or move a saved place")
    async def update_place(
        self,
        place_id: FromPath[str],
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
        return _place(response.place)

    @delete("/places/{place_id:str}", status_code=HTTP_204_NO_CONTENT, summary="Forget a saved place")
    async def delete_place(
        self, place_id: FromPath[str], clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> None:
        await clients.identity.DeletePlace(
            identity_pb2.DeletePlaceRequest(place_id=place_id), metadata=caller.metadata()
        )

    @get("/consents", summary="What I share with which department (or the full history)")
    async def list_consents(
        self,
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
        history: Annotated[bool, QueryParameter(name="history", required=False)] = False,
    ) -> ConsentsOut:
        response = await clients.identity.ListConsents(
            identity_pb2.ListConsentsRequest(include_history=history), metadata=caller.metadata()
        )
        return ConsentsOut(items=[_consent(c) for c in response.consents])

    @post("/consents", summary="Share a field with a department for a purpose")
    async def grant_consent(
        self, data: JSONBody[ConsentIn], clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> ConsentOut:
        response = await clients.identity.GrantConsent(
            identity_pb2.GrantConsentRequest(
                department=data.department, purpose=data.purpose, field=data.field, notice_version=data.notice_version
            ),
            metadata=caller.metadata(),
        )
        return _consent(response.consent)

    @delete("/consents/{department:str}/{purpose:str}/{field:str}", status_code=200, summary="Withdraw a consent")
    async def withdraw_consent(
        self,
        department: FromPath[str],
        purpose: FromPath[str],
        field: FromPath[str],
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
    ) -> ConsentOut:
        response = await clients.identity.WithdrawConsent(
            identity_pb2.WithdrawConsentRequest(department=department, purpose=purpose, field=field),
            metadata=caller.metadata(),
        )
        return _consent(response.consent)


class JwksController(Controller):
    path = "/.well-known/jwks.json"
    tags = ["identity"]

    @get("/", summary="Public keys that sign CityHub access tokens")
    async def jwks(self, request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        authenticator: Authenticator = request.app.state.authenticator
        return Response(
            await authenticator.jwks(),
            media_type="application/jwk-set+json",
            headers={"Cache-Control": "public, max-age=60"},
        )


IDENTITY_ROUTES: list[ControllerRouterHandler] = [AuthController, MeController, JwksController]
