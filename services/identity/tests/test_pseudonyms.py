"""Per-department pseudonyms: stable per department, different across departments, and the key
to consent checks by department systems (who never see account ids)."""

from __future__ import annotations

import grpc
import pytest
from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub_sdk.auth import internal_metadata
from cityhub_sdk.testing import TEST_INTERNAL_TOKEN, bearer, sign_in


async def test_pseudonyms_and_consent_checks(stub: identity_pb2_grpc.IdentityServiceStub) -> None:
    me = bearer(await sign_in(stub, "pseudo@example.org", register=True))
    internal = internal_metadata(TEST_INTERNAL_TOKEN)
    account_id = (await stub.GetProfile(identity_pb2.GetProfileRequest(), metadata=me)).profile.account_id

    async def pseudonym(department: str) -> str:
        request = identity_pb2.GetPseudonymRequest(account_id=account_id, department=department)
        return str((await stub.GetPseudonym(request, metadata=internal)).pseudonym)

    waste, parks = await pseudonym("waste-services"), await pseudonym("parks")
    assert waste == await pseudonym("waste-services")
    assert waste != parks and account_id not in (waste, parks)

    await stub.GrantConsent(
        identity_pb2.GrantConsentRequest(
            department="waste-services", purpose="bookings", field="address", notice_version="3"
        ),
        metadata=me,
    )
    key = await stub.CreateApiKey(identity_pb2.CreateApiKeyRequest(department="waste-services"), metadata=internal)
    as_waste = (("x-api-key", key.key),)
    check = identity_pb2.CheckConsentRequest(
        resident=waste, department="waste-services", purpose="bookings", field="address"
    )
    assert (await stub.CheckConsent(check, metadata=as_waste)).granted
    phone = identity_pb2.CheckConsentRequest(
        resident=waste, department="waste-services", purpose="bookings", field="phone"
    )
    assert not (await stub.CheckConsent(phone, metadata=as_waste)).granted
    # A department cannot ask about another department's pseudonyms or use account ids.
    for request in (
        identity_pb2.CheckConsentRequest(resident=parks, department="parks", purpose="bookings", field="address"),
        identity_pb2.CheckConsentRequest(
            resident=account_id, department="waste-services", purpose="bookings", field="address"
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.CheckConsent(request, metadata=as_waste)
        assert error.value.code() == grpc.StatusCode.NOT_FOUND

    await stub.WithdrawConsent(
        identity_pb2.WithdrawConsentRequest(department="waste-services", purpose="bookings", field="address"),
        metadata=me,
    )
    assert not (await stub.CheckConsent(check, metadata=as_waste)).granted
