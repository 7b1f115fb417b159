"""Identity's one domain error on top of the SDK's: every sign-in or refresh failure looks the same.

All other use-case errors are the SDK's (`cityhub_sdk.errors`), mapped to gRPC statuses by the
interceptor the SDK installs on every server.
"""

from __future__ import annotations

from cityhub_sdk import errors as sdk

GENERIC_CREDENTIALS = "invalid or missing credentials"


class Unauthenticated(sdk.Unauthenticated):
    """Whatever the reason (unknown email, wrong password, lockout, reused token): one text."""

    def __init__(self) -> None:
        super().__init__(GENERIC_CREDENTIALS)
