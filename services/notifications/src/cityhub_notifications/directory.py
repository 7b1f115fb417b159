"""Identity as seen from notifications: a resident's contact (at send time) and saved places.

The email is fetched when a message is sent and never stored; only the preferred language is
kept (in preferences) so that set-based fan-out can pick each resident's language in SQL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import grpc
from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub_sdk.auth import internal_metadata
from cityhub_sdk.grpc_client import create_channel
from cityhub_sdk.languages import resolve_language


@dataclass(frozen=True)
class Contact:
    email: str
    display_name: str
    language: str


class PlaceNotFound(Exception):
    """The resident has no saved place with that id."""


class IdentityUnavailable(Exception):
    """Identity did not answer; the caller retries later."""


class AccountDirectory:
    """gRPC client of identity's internal RPCs, with a short cache of contacts."""

    def __init__(self, address: str | None, internal_token: str | None, *, cache_s: float = 60.0) -> None:
        self.address = address
        self.internal_token = internal_token or ""
        self.cache_s = cache_s
        self._channel: grpc.aio.Channel | None = None
        self._stub: identity_pb2_grpc.IdentityServiceStub | None = None
        self._contacts: dict[str, tuple[float, Contact]] = {}

    def _identity(self) -> identity_pb2_grpc.IdentityServiceStub:
        if self.address is None:
            raise IdentityUnavailable("IDENTITY_ADDR is not configured")
        if self._stub is None:
            self._channel = create_channel(
                self.address, services=[identity_pb2.DESCRIPTOR.services_by_name["IdentityService"]]
            )
            self._stub = identity_pb2_grpc.IdentityServiceStub(self._channel)
        return self._stub

    async def contact(self, account_id: str) -> Contact | None:
        """The account's contact, or None when the account no longer exists."""
        cached = self._contacts.get(account_id)
        if cached is not None and time.monotonic() - cached[0] < self.cache_s:
            return cached[1]
        try:
            response = await self._identity().GetAccountContact(
                identity_pb2.GetAccountContactRequest(account_id=account_id),
                metadata=internal_metadata(self.internal_token),
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                self._contacts.pop(account_id, None)
                return None
            raise IdentityUnavailable(exc.code().name) from exc
        contact = Contact(
            email=response.email,
            display_name=response.display_name,
            language=resolve_language(response.preferred_language),
        )
        self._contacts[account_id] = (time.monotonic(), contact)
        return contact

    async def place(self, account_id: str, place_id: str) -> tuple[float, float]:
        try:
            response = await self._identity().GetPlace(
                identity_pb2.GetPlaceRequest(account_id=account_id, place_id=place_id),
                metadata=internal_metadata(self.internal_token),
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise PlaceNotFound(place_id) from exc
            raise IdentityUnavailable(exc.code().name) from exc
        return response.place.latitude, response.place.longitude

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close(grace=None)
            self._channel = None
            self._stub = None
