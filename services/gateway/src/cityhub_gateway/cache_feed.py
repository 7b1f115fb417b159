"""The catalog's revision events, feeding the gateway's catalog answers cache.

A core NATS subscription to `cityhub.catalog.revision.changed` (the catalog publishes it through
its outbox in the transaction that moves the revision). Each event makes every older answer stale
at once. The cache counts as `live` only while the subscription is up: on a disconnection the
cache is cleared and falls back to its short TTL until the connection (and the subscription,
which the client restores) is back, when it is cleared once more, since events may have been missed.
"""

from __future__ import annotations

import contextlib
from typing import Any

from cityhub.catalog.v1 import events_pb2
from cityhub_sdk.logging import get_logger
from cityhub_sdk.subjects import CATALOG_REVISION_CHANGED

from cityhub_gateway.response_cache import ResponseCache

log = get_logger(__name__)


class CatalogCacheFeed:
    def __init__(self, cache: ResponseCache, nats_url: str) -> None:
        self.cache = cache
        self.nats_url = nats_url
        self._connection: Any = None

    async def start(self) -> None:
        """Subscribe, and mark the cache live once the server has the subscription."""
        import nats

        self._connection = await nats.connect(
            servers=[self.nats_url],
            name="gateway-catalog-cache",
            max_reconnect_attempts=-1,
            disconnected_cb=self._disconnected,
            reconnected_cb=self._reconnected,
        )
        await self._connection.subscribe(CATALOG_REVISION_CHANGED, cb=self._on_message)
        await self._connection.flush()
        self.cache.set_live(True)

    async def close(self) -> None:
        self.cache.set_live(False)
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.drain()
            self._connection = None

    async def _on_message(self, message: Any) -> None:
        try:
            changed = events_pb2.RevisionChanged.FromString(message.data)
        except Exception:  # noqa: BLE001 - a bad message must not stop the subscription
            log.warning("catalog_cache.bad_message")
            self.cache.clear()
            return
        self.cache.note_revision(changed.revision)

    async def _disconnected(self) -> None:
        log.warning("catalog_cache.feed_lost")
        self.cache.set_live(False)

    async def _reconnected(self) -> None:
        log.info("catalog_cache.feed_back")
        self.cache.set_live(True)
