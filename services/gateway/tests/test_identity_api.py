"""Identity through the gateway: sign-up, sign-in, refresh rotation, lockout, ownership, places,
consents, logout (acceptance items 2, 3 and 4)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc
import httpx
import pytest
from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub_gateway.app import create_app
from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.config import GatewaySettings
from cityhub_sdk.app import RunningService

SignIn = Callable[..., Awaitable[dict[str, str]]]
PASSWORD = "correct horse battery staple"
LAKEVIEW_HOME = {"label": "home", "latitude": 47.6101, "longitude": -122.3344}


async def _tokens(api: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    await api.post("/v1/auth/register", json={"email": email, "password": password})
    response = await api.post("/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def _bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_register_sign_in_and_read_my_profile(api: httpx.AsyncClient, sign_in: SignIn) -> None:
    headers = await sign_in("ann@example.org", display_name="Ann", preferred_language="vi")
    me = await api.get("/v1/me", headers=headers)
    assert me.status_code == 200, me.text
    body = me.json()
    assert (body["email"], body["display_name"], body["preferred_language"]) == ("ann@example.org", "Ann", "vi")
    assert body["role"] == "resident"

    changed = await api.patch("/v1/me", headers=headers, json={"phone": "+1 206 555 0100", "preferred_language": "ja"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["phone"] == "+1 206 555 0100"
    assert changed.json()["preferred_language"] == "ja"
    assert changed.json()["display_name"] == "Ann"
    bad = await api.patch("/v1/me", headers=headers, json={"preferred_language": "xx"})
    assert bad.status_code == 422


async def test_token_response_shape_and_registration_does_not_reveal_accounts(api: httpx.AsyncClient) -> None:
    first = await api.post("/v1/auth/register", json={"email": "bob@example.org", "password": PASSWORD})
    again = await api.post("/v1/auth/register", json={"email": "BOB@example.org", "password": "another password!"})
    assert (first.status_code, first.json()) == (again.status_code, again.json()) == (202, first.json())
    weak = await api.post("/v1/auth/register", json={"email": "weak@example.org", "password": "short"})
    assert weak.status_code == 422

    tokens = await _tokens(api, "bob@example.org")
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert tokens["token_type"] == "Bearer"
    assert 0 < int(tokens["expires_in"]) <= 900


async def test_refresh_rotates_and_reuse_revokes_the_whole_family(
    api: httpx.AsyncClient,
    identity_service: RunningService,  # type: ignore[type-arg]
) -> None:
    """Acceptance 2."""
    first = await _tokens(api, "carol@example.org")
    second = (await api.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    assert second["refresh_token"] != first["refresh_token"]

    # A lost response: the same token again inside the grace window gives the same successor.
    retry = await api.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert retry.status_code == 200
    assert retry.json()["refresh_token"] == second["refresh_token"]

    third = (await api.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})).json()
    assert (await api.get("/v1/me", headers=_bearer(third))).status_code == 200

    # `first` comes back after its successor was used: a stolen token. The family is revoked.
    reuse = await api.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    assert (await api.post("/v1/auth/refresh", json={"refresh_token": third["refresh_token"]})).status_code == 401
    assert (await api.get("/v1/me", headers=_bearer(third))).status_code == 401
    assert (await api.get("/v1/me", headers=_bearer(second))).status_code == 401
    # ... also directly at the service
    async with grpc.aio.insecure_channel(identity_service.address) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.GetProfile(
                identity_pb2.GetProfileRequest(), metadata=(("authorization", _bearer(third)["Authorization"]),)
            )
        assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # A fresh sign-in still works.
    assert (await api.get("/v1/me", headers=_bearer(await _tokens(api, "carol@example.org")))).status_code == 200


async def test_logout_revokes_the_session(api: httpx.AsyncClient) -> None:
    tokens = await _tokens(api, "dan@example.org")
    assert (await api.post("/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})).status_code == 204
    assert (await api.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).status_code == 401
    assert (await api.get("/v1/me", headers=_bearer(tokens))).status_code == 401


async def test_wrong_passwords_from_many_addresses_lock_the_account(
    api: httpx.AsyncClient, gateway_settings: GatewaySettings
) -> None:
    """Acceptance 3: 20 failures from 20 addresses lock the account; unknown email looks identical."""
    await _tokens(api, "erin@example.org")
    settings = gateway_settings
    clients = ServiceClients.connect(settings)
    app = create_app(settings, clients)
    answers = []
    try:
        for n in range(20):
            transport = httpx.ASGITransport(app=app, client=(f"198.51.100.{n + 1}", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
                response = await client.post(
                    "/v1/auth/token", json={"email": "erin@example.org", "password": f"wrong password {n}"}
                )
                answers.append((response.status_code, _without_trace(response.json())))
            unknown = await api.post("/v1/auth/token", json={"email": f"nobody{n}@example.org", "password": "x" * 12})
            assert (unknown.status_code, _without_trace(unknown.json())) == answers[-1]
    finally:
        await clients.close()
    assert {status for status, _ in answers} == {401}
    assert all(body == answers[0][1] for _, body in answers)
    # Locked: even the right password is refused, with the very same answer.
    locked = await api.post("/v1/auth/token", json={"email": "erin@example.org", "password": PASSWORD})
    assert (locked.status_code, _without_trace(locked.json())) == answers[0]


def _without_trace(problem: dict[str, object]) -> dict[str, object]:
    """Each answer has its own trace id (so support can find it); all else must be identical."""
    problem.pop("trace_id", None)
    return problem


async def test_per_ip_limit_on_auth_routes(gateway_settings: GatewaySettings) -> None:
    settings = gateway_settings.model_copy(update={"auth_rate_limit_per_minute": 3})
    clients = ServiceClients.connect(settings)
    try:
        transport = httpx.ASGITransport(app=create_app(settings, clients), client=("203.0.113.9", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            statuses = [
                (await client.post("/v1/auth/token", json={"email": "x@example.org", "password": "y" * 12})).status_code
                for _ in range(5)
            ]
            assert statuses[:3] == [401, 401, 401]
            assert statuses[3:] == [429, 429]
            assert (await client.get("/v1/departments")).status_code == 200  # other routes are not limited here
    finally:
        await clients.close()


async def test_resident_b_gets_404_on_resident_a_objects(
    api: httpx.AsyncClient,
    sign_in: SignIn,
    identity_service: RunningService,  # type: ignore[type-arg]
) -> None:
    """Acceptance 4 for identity's objects (saved places), via the gateway and directly via gRPC."""
    alice = await sign_in("alice@example.org")
    bob = await sign_in("bob.b@example.org")
    place = (await api.post("/v1/me/places", headers=alice, json=LAKEVIEW_HOME)).json()

    assert (await api.patch(f"/v1/me/places/{place['id']}", headers=bob, json={"label": "mine"})).status_code == 404
    assert (await api.delete(f"/v1/me/places/{place['id']}", headers=bob)).status_code == 404
    assert (await api.get("/v1/me/places", headers=bob)).json()["items"] == []
    assert (await api.delete(f"/v1/me/places/{'0' * 8}-0000-0000-0000-{'0' * 12}", headers=alice)).status_code == 404

    async with grpc.aio.insecure_channel(identity_service.address) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        as_bob = (("authorization", bob["Authorization"]),)
        for call in (
            stub.UpdatePlace(identity_pb2.UpdatePlaceRequest(place_id=place["id"], label="mine"), metadata=as_bob),
            stub.DeletePlace(identity_pb2.DeletePlaceRequest(place_id=place["id"]), metadata=as_bob),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await call
            assert error.value.code() == grpc.StatusCode.NOT_FOUND
        # Internal RPCs are not open to residents.
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.GetPlace(identity_pb2.GetPlaceRequest(account_id="x", place_id=place["id"]), metadata=as_bob)
        assert error.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (await api.get("/v1/me/places", headers=alice)).json()["items"][0]["label"] == "home"


async def test_saved_places_limits(api: httpx.AsyncClient, sign_in: SignIn) -> None:
    headers = await sign_in("places@example.org")
    assert (await api.post("/v1/me/places", headers=headers, json=LAKEVIEW_HOME)).status_code == 201
    assert (await api.post("/v1/me/places", headers=headers, json=LAKEVIEW_HOME)).status_code == 409  # one home
    bad = await api.post("/v1/me/places", headers=headers, json={"label": "gym", "latitude": 123, "longitude": 0})
    assert bad.status_code == 422
    for n in range(9):
        spot = {"label": f"spot {n}", "latitude": 47.6 + n / 1000, "longitude": -122.33}
        assert (await api.post("/v1/me/places", headers=headers, json=spot)).status_code == 201
    eleventh = {"label": "one too many", "latitude": 47.62, "longitude": -122.33}
    assert (await api.post("/v1/me/places", headers=headers, json=eleventh)).status_code == 409
    assert len((await api.get("/v1/me/places", headers=headers)).json()["items"]) == 10


async def test_consent_is_append_only_and_withdrawable(api: httpx.AsyncClient, sign_in: SignIn) -> None:
    headers = await sign_in("consent@example.org")
    grant = {"department": "waste-services", "purpose": "bookings", "field": "address", "notice_version": "2026-01"}
    assert (await api.post("/v1/me/consents", headers=headers, json=grant)).status_code == 201
    current = (await api.get("/v1/me/consents", headers=headers)).json()["items"]
    assert [(c["department"], c["field"], c["granted"]) for c in current] == [("waste-services", "address", True)]

    withdrawn = await api.delete("/v1/me/consents/waste-services/bookings/address", headers=headers)
    assert withdrawn.status_code == 200
    assert withdrawn.json()["granted"] is False
    assert (await api.get("/v1/me/consents", headers=headers)).json()["items"] == []
    history = (await api.get("/v1/me/consents", headers=headers, params={"history": "true"})).json()["items"]
    assert [c["granted"] for c in history] == [True, False]
    assert all(c["notice_version"] == "2026-01" for c in history)
    unknown_field = {**grant, "field": "shoe-size"}
    assert (await api.post("/v1/me/consents", headers=headers, json=unknown_field)).status_code == 422


async def test_export_contains_what_identity_holds(api: httpx.AsyncClient, sign_in: SignIn) -> None:
    headers = await sign_in("export@example.org", display_name="Ex Port")
    await api.post("/v1/me/places", headers=headers, json=LAKEVIEW_HOME)
    export = await api.get("/v1/me/export", headers=headers)
    assert export.status_code == 200, export.text
    identity = export.json()["identity"]
    assert identity["account"]["email"] == "export@example.org"
    assert identity["places"][0]["label"] == "home"
    assert (await api.delete("/v1/me", headers=headers)).status_code == 202
    assert (await api.get("/v1/me", headers=headers)).status_code == 401
