"""Acceptance 5 for identity: deleting an account erases identity's data at once, publishes a
payload without personal data, and tracks every confirming service until all have confirmed."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import nats
import pytest
from cityhub.identity.v1 import events_pb2, identity_pb2, identity_pb2_grpc
from cityhub_identity.config import IdentitySettings
from cityhub_identity.models import Account, ConsentRecord, Place, Pseudonym, RefreshToken
from cityhub_sdk.app import RunningService
from cityhub_sdk.auth import internal_metadata
from cityhub_sdk.events import new_event
from cityhub_sdk.testing import TEST_INTERNAL_TOKEN, TEST_PASSWORD, bearer, eventually, sign_in
from google.protobuf.timestamp_pb2 import Timestamp
from sqlmodel import select

EMAIL = "erase.me@example.org"


async def _deleted_event(nats_url: str) -> events_pb2.AccountDeleted:
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        subscription = await js.pull_subscribe("cityhub.identity.account.deleted", stream="IDENTITY")
        messages = await subscription.fetch(1, timeout=10)
        message = events_pb2.AccountDeleted()
        message.ParseFromString(messages[0].data)
        assert messages[0].headers is not None
        assert messages[0].headers["ce-type"] == "cityhub.identity.account.deleted"
        return message
    finally:
        await connection.close()


async def _confirm(identity: RunningService[IdentitySettings], account_id: str, service: str) -> None:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC))
    message = events_pb2.AccountErased(account_id=account_id, service=service, erased_at=stamp)
    await identity.bus.publish(new_event(f"cityhub.{service}.account.erased", message, source=service))


async def test_delete_account_erases_and_tracks_confirmations(
    identity: RunningService[IdentitySettings], stub: identity_pb2_grpc.IdentityServiceStub
) -> None:
    me = bearer(await sign_in(stub, EMAIL, register=True))
    await stub.UpdateProfile(
        identity_pb2.UpdateProfileRequest(
            display_name="Erin Erase", phone="+12065550199", update_fields=["display_name", "phone"]
        ),
        metadata=me,
    )
    await stub.CreatePlace(
        identity_pb2.CreatePlaceRequest(label="home", latitude=47.61, longitude=-122.33), metadata=me
    )
    await stub.GrantConsent(
        identity_pb2.GrantConsentRequest(
            department="waste-services", purpose="bookings", field="phone", notice_version="1"
        ),
        metadata=me,
    )
    account_id = (await stub.GetProfile(identity_pb2.GetProfileRequest(), metadata=me)).profile.account_id
    internal = internal_metadata(TEST_INTERNAL_TOKEN)
    await stub.GetPseudonym(
        identity_pb2.GetPseudonymRequest(account_id=account_id, department="waste-services"), metadata=internal
    )

    await stub.DeleteAccount(identity_pb2.DeleteAccountRequest(), metadata=me)

    # Identity's own data is gone now; only an id-only tombstone remains.
    async with identity.db.session() as session:
        account = await session.get(Account, account_id)
        assert account is not None and account.deleted_at is not None
        assert (account.email, account.password_hash, account.display_name, account.phone) == (None, "", "", "")
        for table in (Place, ConsentRecord, Pseudonym):
            assert (await session.exec(select(table).where(table.account_id == account_id))).all() == []  # type: ignore[attr-defined]
        assert (await session.exec(select(RefreshToken))).all() == []
    # The session ended with it, and the address no longer signs in.
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.GetProfile(identity_pb2.GetProfileRequest(), metadata=me)
    assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.CreateToken(identity_pb2.CreateTokenRequest(email=EMAIL, password=TEST_PASSWORD))
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.GetAccountContact(identity_pb2.GetAccountContactRequest(account_id=account_id), metadata=internal)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND

    # The event names the account and the time, nothing else.
    event = await _deleted_event(identity.settings.nats_url)
    assert [field.name for field, _ in event.ListFields()] == ["account_id", "deleted_at"]
    assert event.account_id == account_id

    status = await stub.GetErasureStatus(identity_pb2.GetErasureStatusRequest(account_id=account_id), metadata=internal)
    assert list(status.expected_services) == ["incidents", "notifications"]
    assert not status.complete

    await _confirm(identity, account_id, "incidents")
    await _confirm(identity, account_id, "incidents")  # a duplicate confirmation changes nothing

    async def confirmed(services: list[str]) -> bool:
        response = await stub.GetErasureStatus(
            identity_pb2.GetErasureStatusRequest(account_id=account_id), metadata=internal
        )
        return list(response.confirmed_services) == services

    await eventually(lambda: confirmed(["incidents"]))
    assert not (
        await stub.GetErasureStatus(identity_pb2.GetErasureStatusRequest(account_id=account_id), metadata=internal)
    ).complete
    await _confirm(identity, account_id, "notifications")
    await eventually(lambda: confirmed(["incidents", "notifications"]))
    final = await stub.GetErasureStatus(identity_pb2.GetErasureStatusRequest(account_id=account_id), metadata=internal)
    assert final.complete

    # The address is free again for a new, unrelated account.
    await stub.RegisterAccount(identity_pb2.RegisterAccountRequest(email=EMAIL, password=TEST_PASSWORD))
    fresh = await stub.CreateToken(identity_pb2.CreateTokenRequest(email=EMAIL, password=TEST_PASSWORD))
    assert fresh.tokens.access_token


async def test_confirmations_arriving_together_still_close_the_erasure(
    identity: RunningService[IdentitySettings],
) -> None:
    """Each confirming service has its own consumer, so confirmations commit concurrently."""
    import asyncio

    from cityhub_identity.models import ErasureRequest
    from cityhub_identity.service.admin import record_confirmation

    services = ["incidents", "notifications", "waittimes", "requests"]
    for attempt in range(5):
        account_id = f"00000000-0000-0000-0000-00000000000{attempt}"
        async with identity.db.transaction() as session:
            session.add(ErasureRequest(id=f"erasure-{attempt}", account_id=account_id, expected_services=services))

        async def confirm(service: str, account: str = account_id) -> None:
            async with identity.db.transaction() as session:
                await record_confirmation(session, account, service)

        await asyncio.gather(*(confirm(service) for service in services))
        async with identity.db.session() as session:
            request = (await session.exec(select(ErasureRequest).where(ErasureRequest.account_id == account_id))).one()
        assert request.completed_at is not None, f"attempt {attempt}: erasure left open"
