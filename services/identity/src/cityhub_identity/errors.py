"""Domain errors; the servicer maps each to one gRPC status with client-safe text."""

from __future__ import annotations

import grpc

GENERIC_CREDENTIALS = "invalid or missing credentials"


class IdentityError(Exception):
    code = grpc.StatusCode.INTERNAL

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidArgument(IdentityError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(IdentityError):
    code = grpc.StatusCode.NOT_FOUND


class Unauthenticated(IdentityError):
    """Every sign-in or refresh failure: one text, whatever the reason."""

    code = grpc.StatusCode.UNAUTHENTICATED

    def __init__(self, detail: str = GENERIC_CREDENTIALS) -> None:
        super().__init__(GENERIC_CREDENTIALS)


class FailedPrecondition(IdentityError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class AlreadyExists(IdentityError):
    code = grpc.StatusCode.ALREADY_EXISTS
