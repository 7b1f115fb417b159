"""Answers that are the same for every caller, kept in memory and keyed on their owner's revision.

A catalog list is the same for everyone until the catalog changes, so the gateway keeps it (as the
encoded body with its ETag, or as the typed value when a live part is merged per request) and a hit
makes no gRPC call and does no protobuf-to-JSON-to-hash work. Correctness rests on the revision the
owner reports with each answer (never older than the answer's content) and on the owner's events:

* an answer is kept under the revision it was read at; once a newer revision is known (from an
  event, or from another answer) older entries are never served again, and an answer that raced
  an edit (read at an older revision than the one known when it arrives) is not kept;
* while the invalidation events are followed (`live`), an entry is served for at most `ttl_s`
  (a bound for an event lost in transit); when they are not (no NATS, NATS down or reconnecting),
  for at most `fallback_ttl_s`, and losing or regaining the connection drops every entry, so an
  outage never turns into stale answers;
* concurrent misses of one key wait for one fetch (a burst after an edit costs the owner one call);
  a failed fetch is not shared: each waiting caller then asks for itself, as without the cache;
* at most `max_entries` entries and `max_bytes` of bodies are kept, least recently used out first
  (free-text queries and coordinates make the key space open).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import msgspec
from litestar import Response

V = TypeVar("V")
DEFAULT_MAX_ENTRIES = 4096
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
CACHE_CONTROL = "public, max-age=300"


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


@dataclass(frozen=True, slots=True)
class EncodedAnswer:
    """A ready HTTP answer: the body as sent, its strong ETag and the caching headers."""

    body: bytes
    media_type: str
    etag: str
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, payload: Any, media_type: str = "application/json") -> EncodedAnswer:
        """Encode once: bytes as they are, text as UTF-8, anything else as JSON (msgspec)."""
        if isinstance(payload, bytes):
            body = payload
        elif isinstance(payload, str):
            body = payload.encode("utf-8")
        else:
            body = msgspec.json.encode(payload)
        etag = strong_etag(body)
        headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Language"}
        return cls(body, media_type, etag, headers)

    def response(self, if_none_match: str | None) -> Response[Any]:
        """The body, or an empty 304 when the client's copy is current."""
        if etag_matches(if_none_match, self.etag):
            return Response(content=None, status_code=304, headers=self.headers)
        return Response(content=self.body, headers=self.headers, media_type=self.media_type)


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    value: V
    revision: int
    stored_at: float
    size: int


def _size_of(value: Any) -> int:
    return len(value.body) if isinstance(value, EncodedAnswer) else 1024


class ResponseCache:
    """One owner's answers (e.g. catalog's); `note_revision` and `clear` are fed by its events."""

    def __init__(
        self,
        *,
        ttl_s: float,
        fallback_ttl_s: float,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.fallback_ttl_s = fallback_ttl_s
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clock = clock
        self.live = False  # whether the owner's invalidation events are being received
        self.revision = 0  # the newest revision known
        self._entries: OrderedDict[Hashable, _Entry[Any]] = OrderedDict()
        self._bytes = 0
        self._generation = 0  # moves on `clear`: fetches begun before it are not kept
        self._pending: dict[Hashable, asyncio.Task[Any]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    # -- invalidation ---------------------------------------------------------------------------

    def note_revision(self, revision: int) -> None:
        """The owner is at `revision` (an event or a fresh answer): older entries are stale."""
        if revision <= self.revision:
            return
        self.revision = revision
        for key in [key for key, entry in self._entries.items() if entry.revision < revision]:
            self._drop(key)

    def clear(self) -> None:
        """Forget everything (the event feed was lost or regained: an event may have been missed)."""
        self._entries.clear()
        self._bytes = 0
        self._generation += 1

    def set_live(self, live: bool) -> None:
        self.live = live
        self.clear()

    # -- reads ------------------------------------------------------------------------------------

    def lookup(self, key: Hashable) -> Any | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        max_age = self.ttl_s if self.live else self.fallback_ttl_s
        if entry.revision < self.revision or self.clock() - entry.stored_at > max_age:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry.value

    def store(self, key: Hashable, value: V, revision: int, *, generation: int | None = None) -> V:
        """Keep `value` read at `revision`, unless a newer revision (or a `clear`) overtook it."""
        self.note_revision(revision)
        if revision < self.revision or (generation is not None and generation != self._generation):
            return value
        self._drop(key)
        entry = _Entry(value, revision, self.clock(), _size_of(value))
        self._entries[key] = entry
        self._bytes += entry.size
        while self._entries and (len(self._entries) > self.max_entries or self._bytes > self.max_bytes):
            self._drop(next(iter(self._entries)))
        return value

    async def get_or_fetch(self, key: Hashable, fetch: Callable[[], Awaitable[tuple[V, int]]]) -> V:
        """The kept value for `key`, else `fetch()` (value, revision) once for every concurrent caller."""
        hit = self.lookup(key)
        if hit is not None:
            found: V = hit
            return found
        pending = self._pending.get(key)
        if pending is not None:
            with contextlib.suppress(Exception):  # the fetch's own caller reports its failure
                shared: V = await asyncio.shield(pending)
                return shared
            value, _ = await fetch()
            return value
        task = asyncio.ensure_future(self._fetch_and_store(key, fetch, self._generation))
        self._pending[key] = task
        task.add_done_callback(lambda done: self._settle(key, done))
        mine: V = await asyncio.shield(task)  # a caller that goes away leaves the fetch to the others
        return mine

    async def _fetch_and_store(
        self, key: Hashable, fetch: Callable[[], Awaitable[tuple[V, int]]], generation: int
    ) -> V:
        value, revision = await fetch()
        return self.store(key, value, revision, generation=generation)

    def _settle(self, key: Hashable, task: asyncio.Task[Any]) -> None:
        if self._pending.get(key) is task:
            del self._pending[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so an unobserved failure is not logged as lost

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.size
