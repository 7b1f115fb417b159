"""Use-case errors reach gRPC clients through the SDK's interceptor, with no per-service wrapper:
the status and the client-safe text arrive as raised, and every sign-in failure reads the same."""

from __future__ import annotations

import grpc
import pytest
from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub_identity.errors import GENERIC_CREDENTIALS
from cityhub_sdk.auth import internal_metadata
from cityhub_sdk.testing import TEST_INTERNAL_TOKEN, TEST_PASSWORD, bearer, sign_in

Stub = identity_pb2_grpc.IdentityServiceStub


async def _status(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call  # type: ignore[misc]
    return info.value.code(), info.value.details() or ""


async def test_use_case_errors_keep_their_status_and_text(stub: Stub) -> None:
    import cityhub_identity.server as server

    assert not hasattr(server, "_call")
    me = bearer(await sign_in(stub, "errors@example.org", register=True))
    internal = internal_metadata(TEST_INTERNAL_TOKEN)
    assert await _status(stub.DeletePlace(identity_pb2.DeletePlaceRequest(place_id="nope"), metadata=me)) == (
        grpc.StatusCode.NOT_FOUND,
        "place not found",
    )
    code, text = await _status(
        stub.UpdateProfile(identity_pb2.UpdateProfileRequest(update_fields=["role"]), metadata=me)
    )
    assert (code, text) == (grpc.StatusCode.INVALID_ARGUMENT, "cannot update role")
    code, _ = await _status(
        stub.CreateAccount(
            identity_pb2.CreateAccountRequest(email="x@example.org", password=TEST_PASSWORD), metadata=internal
        )
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT  # no role given
    code, _ = await _status(
        stub.CreatePlace(
            identity_pb2.CreatePlaceRequest(label="home", latitude=float("nan"), longitude=1.0), metadata=me
        )
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    key = await stub.CreateApiKey(identity_pb2.CreateApiKeyRequest(department="parks"), metadata=internal)
    other_department = identity_pb2.CheckConsentRequest(
        resident="anyone", department="waste-services", purpose="bookings", field="address"
    )
    code, _ = await _status(stub.CheckConsent(other_department, metadata=(("x-api-key", key.key),)))
    assert code == grpc.StatusCode.NOT_FOUND


async def test_every_sign_in_failure_has_one_text(stub: Stub) -> None:
    await sign_in(stub, "known@example.org", register=True)
    answers = {
        await _status(stub.CreateToken(identity_pb2.CreateTokenRequest(email=email, password=password)))
        for email, password in (
            ("known@example.org", "wrong password here"),
            ("unknown@example.org", TEST_PASSWORD),
            ("not an email", TEST_PASSWORD),
        )
    }
    answers.add(await _status(stub.RefreshToken(identity_pb2.RefreshTokenRequest(refresh_token="forged"))))
    assert answers == {(grpc.StatusCode.UNAUTHENTICATED, GENERIC_CREDENTIALS)}
