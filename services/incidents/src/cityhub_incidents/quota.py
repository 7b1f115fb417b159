"""The report quota: how many reports one account, one device or one client address may file.

A flood of reports fans out to every subscriber nearby, so it is cut before anything is written:
a resident is counted by account, an anonymous reporter by device id and by the client address
the gateway forwards (`x-cityhub-client-address`). Staff, operators, other services and
department systems (their own department's services only, see filing) are not counted. Counts are
kept in memory per replica (the SDK's FixedWindowQuota, keys hashed); a refusal is
RESOURCE_EXHAUSTED with the seconds until the window resets.
"""

from __future__ import annotations

from collections.abc import Sequence

from cityhub_sdk.auth import ROLE_ANONYMOUS, ROLE_RESIDENT, Caller
from cityhub_sdk.errors import ResourceExhausted
from cityhub_sdk.quotas import FixedWindowQuota, QuotaExceeded

CLIENT_ADDRESS_KEY = "x-cityhub-client-address"


class ReportQuota:
    def __init__(self, per_reporter: int, per_address: int, window_s: float) -> None:
        self.per_reporter = FixedWindowQuota(per_reporter, window_s)
        self.per_address = FixedWindowQuota(per_address, window_s)

    def charge(self, caller: Caller, *, device_id: str, client_address: str) -> None:
        checks: list[tuple[str, FixedWindowQuota]] = []
        if caller.role == ROLE_RESIDENT and caller.subject:
            checks.append((f"account:{caller.subject}", self.per_reporter))
        elif caller.role != ROLE_ANONYMOUS:
            return
        if device_id:
            checks.append((f"device:{device_id}", self.per_reporter))
        if client_address:
            checks.append((f"address:{client_address}", self.per_address))
        try:
            FixedWindowQuota.hit_all(checks, scope="reports")
        except QuotaExceeded as exc:
            raise ResourceExhausted(
                "too many reports from this account, device or address; try again later",
                retry_after_s=exc.retry_after_s,
            ) from None


def client_address_of(metadata: Sequence[tuple[str, str | bytes]] | None) -> str:
    for key, value in metadata or ():
        if key == CLIENT_ADDRESS_KEY and isinstance(value, str):
            return value[:64]
    return ""
