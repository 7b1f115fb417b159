"""Abuse limits on /v1/auth/*, counted in memory per gateway replica.

* sign-in and registration: per client address AND per account (the normalised email), so one
  address cannot try many accounts and many addresses cannot hammer one account;
* refresh and logout: per refresh token presented, never per address: residents behind one
  carrier NAT address refresh independently. A family advances one token at a time (each token is
  single-use and its reuse revokes the family in identity), so this bounds retries of one token.

A refused call answers 429 with `Retry-After` = the seconds until the refusing window resets.
"""

from __future__ import annotations

from typing import Any

from cityhub_sdk.quotas import FixedWindowQuota, QuotaExceeded
from cityhub_sdk.text import normalise_email
from litestar.connection import ASGIConnection

from cityhub_gateway.client_address import client_address
from cityhub_gateway.config import GatewaySettings
from cityhub_gateway.errors import ApiError


class AuthQuotas:
    def __init__(self, settings: GatewaySettings) -> None:
        window = settings.auth_rate_window_s
        self.per_address = FixedWindowQuota(settings.auth_rate_limit_per_minute, window)
        self.per_account = FixedWindowQuota(settings.auth_account_rate_limit_per_minute, window)
        self.per_refresh_token = FixedWindowQuota(settings.auth_refresh_rate_limit_per_minute, window)

    def check(self, action: str, connection: ASGIConnection[Any, Any, Any, Any], email: str) -> None:
        """Sign-in (`action="sign-in"`) or registration: one hit per address and per account."""
        _charge(
            [
                (f"{action}:address:{client_address(connection)}", self.per_address),
                (f"{action}:account:{normalise_email(email)}", self.per_account),
            ]
        )

    def check_refresh(self, refresh_token: str) -> None:
        _charge([(f"refresh:{refresh_token}", self.per_refresh_token)])


def _charge(checks: list[tuple[str, FixedWindowQuota]]) -> None:
    try:
        FixedWindowQuota.hit_all(checks, scope="auth")
    except QuotaExceeded as exc:
        raise too_many_requests(exc.retry_after_s) from None


def too_many_requests(retry_after_s: int, detail: str = "too many attempts; try again later") -> ApiError:
    return ApiError("too-many-requests", detail, headers={"Retry-After": str(retry_after_s)})


def auth_quotas(connection: ASGIConnection[Any, Any, Any, Any]) -> AuthQuotas:
    """The app's one AuthQuotas, made on first use from its settings."""
    state = connection.app.state
    quotas: AuthQuotas | None = getattr(state, "auth_quotas", None)
    if quotas is None:
        quotas = AuthQuotas(state.settings)
        state.auth_quotas = quotas
    return quotas
