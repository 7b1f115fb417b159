"""Fixed-window quotas kept in memory: "at most N per window for this key", with the exact reset.

Used where a flood must be cut cheaply before any work (the gateway's sign-in and registration
limits, incidents' report quota). Each process counts alone, so with R replicas a key gets at most
R x N per window; a client that is refused learns when its window really resets (`Retry-After`).
Keys are hashed before they are stored: an email or an address never sits in memory as text here.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class QuotaExceeded(Exception):
    """Refused: `retry_after_s` is when the fullest of the refusing windows resets (whole seconds, >= 1)."""

    retry_after_s: int
    scope: str

    def __str__(self) -> str:
        return f"quota exceeded ({self.scope}); retry after {self.retry_after_s} s"


class FixedWindowQuota:
    """At most `limit` hits per key in each window of `window_s` seconds."""

    def __init__(
        self,
        limit: int,
        window_s: float = 60.0,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._clock = clock
        self._windows: dict[bytes, tuple[float, int]] = {}  # key digest -> (window start, hits)

    @staticmethod
    def _digest(key: str) -> bytes:
        return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def _prune(self, now: float) -> None:
        expired = [k for k, (start, _) in self._windows.items() if now - start >= self.window_s]
        for k in expired:
            del self._windows[k]
        if len(self._windows) >= self.max_keys:  # a flood of distinct keys: forget the oldest half
            for k, _ in sorted(self._windows.items(), key=lambda item: item[1][0])[: self.max_keys // 2]:
                del self._windows[k]

    def retry_after(self, key: str) -> float | None:
        """Seconds until `key` may hit again, or None when it may now (nothing is counted)."""
        now = self._clock()
        window = self._windows.get(self._digest(key))
        if window is None or now - window[0] >= self.window_s or window[1] < self.limit:
            return None
        return window[0] + self.window_s - now

    def hit(self, key: str) -> None:
        """Counts one hit for `key`; raises QuotaExceeded (and counts nothing) when its window is full."""
        self.hit_all([(key, self)], scope="key")

    def _count(self, digest: bytes, now: float) -> None:
        start, hits = self._windows.get(digest, (now, 0))
        if now - start >= self.window_s:
            start, hits = now, 0
        if digest not in self._windows and len(self._windows) >= self.max_keys:
            self._prune(now)
        self._windows[digest] = (start, hits + 1)

    @staticmethod
    def hit_all(checks: Iterable[tuple[str, FixedWindowQuota]], *, scope: str) -> None:
        """One hit on every (key, quota), all or none: refused when any of them is full."""
        checks = list(checks)
        waits = [wait for key, quota in checks if (wait := quota.retry_after(key)) is not None]
        if waits:
            raise QuotaExceeded(max(1, math.ceil(max(waits))), scope)
        for key, quota in checks:
            quota._count(quota._digest(key), quota._clock())
