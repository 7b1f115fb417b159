"""Catalog answers served from the gateway's memory stay correct: an edit in the catalog is visible
at the gateway within a second (the catalog's revision event), a hit needs no catalog at all, and
without the event feed (NATS down) nothing is served longer than the fallback TTL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
import httpx
import pytest
import uvicorn
from cityhub.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from cityhub.identity.v1 import identity_pb2_grpc
from cityhub_catalog.app import DEFINITION as CATALOG
from cityhub_catalog.seed import seed_catalog
from cityhub_gateway.app import create_app
from cityhub_gateway.cache_feed import CatalogCacheFeed
from cityhub_gateway.config import GatewaySettings
from cityhub_gateway.response_cache import EncodedAnswer, ResponseCache
from cityhub_sdk.app import RunningService
from cityhub_sdk.testing import FAST_AUTH_ENV, eventually, free_port, start_service
from cityhub_sdk.testing.accounts import People
from cityhub_sdk.testing.infra import NatsServerProcess
from cityhub_sdk.testing.plugin import DatabaseFactory

from .conftest import settings_for

LONG_S = 300.0  # TTLs far beyond the test: only the revision events can make a change visible


@pytest.fixture
async def catalog_with_auth(
    database_factory: DatabaseFactory,
    clean_nats: str,
    identity_service: RunningService,  # type: ignore[type-arg]
) -> AsyncIterator[RunningService]:  # type: ignore[type-arg]
    """The catalog verifying callers through identity, so an operator can edit a service."""
    async with start_service(
        CATALOG,
        database_factory,
        clean_nats,
        seed=lambda s: seed_catalog(s.db),
        IDENTITY_ADDR=identity_service.address,
        **FAST_AUTH_ENV,
    ) as service:
        yield service


@asynccontextmanager
async def _serve(settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway under uvicorn on a free port, lifespan included (clients, the cache's event feed)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, 15)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        server.should_exit = True
        await task


async def test_a_catalog_edit_is_visible_at_the_gateway_within_a_second(
    catalog_with_auth: RunningService,  # type: ignore[type-arg]
    identity_service: RunningService,  # type: ignore[type-arg]
    clean_nats: str,
) -> None:
    settings = settings_for(
        CATALOG_ADDR=catalog_with_auth.address,
        IDENTITY_ADDR=identity_service.address,
        INCIDENTS_ADDR=f"127.0.0.1:{free_port()}",  # not called here
        NATS_URL=clean_nats,
        CATALOG_CACHE_TTL_S=LONG_S,
        CATALOG_CACHE_FALLBACK_TTL_S=LONG_S,
    )
    async with _serve(settings) as api:
        first = await api.get("/v1/services/pothole")
        listed = await api.get("/v1/services", params={"page_size": 100})
        assert first.status_code == 200 and listed.status_code == 200
        old_etag = first.headers["etag"]
        assert (await api.get("/v1/services/pothole", headers={"If-None-Match": old_etag})).status_code == 304

        async with grpc.aio.insecure_channel(identity_service.address) as identity_channel:
            operator = await People(identity_pb2_grpc.IdentityServiceStub(identity_channel)).person("operator")
        async with grpc.aio.insecure_channel(catalog_with_auth.address) as channel:
            edited = await catalog_pb2_grpc.CatalogServiceStub(channel).UpdateService(
                catalog_pb2.UpdateServiceRequest(slug="pothole", name={"en": "Pothole or sinkhole"}),
                metadata=operator.metadata,
            )
        assert edited.changed

        async def page_shows_the_edit() -> bool:
            return (await api.get("/v1/services/pothole")).json()["name"] == "Pothole or sinkhole"

        async def list_shows_the_edit() -> bool:
            items = (await api.get("/v1/services", params={"page_size": 100})).json()["items"]
            return any(item["name"] == "Pothole or sinkhole" for item in items)

        await eventually(page_shows_the_edit, 1.0)
        await eventually(list_shows_the_edit, 1.0)
        # The client's old copy is no longer current; the new one is.
        again = await api.get("/v1/services/pothole", headers={"If-None-Match": old_etag})
        assert again.status_code == 200 and again.headers["etag"] != old_etag
        assert (
            await api.get("/v1/services/pothole", headers={"If-None-Match": again.headers["etag"]})
        ).status_code == 304


async def test_a_hit_is_served_from_memory_without_the_catalog(
    catalog_service: RunningService,  # type: ignore[type-arg]
    identity_service: RunningService,  # type: ignore[type-arg]
    clean_nats: str,
) -> None:
    """Once read, a list is answered from memory even with the catalog gone (no gRPC call per hit)."""
    settings = settings_for(
        CATALOG_ADDR=catalog_service.address,
        IDENTITY_ADDR=identity_service.address,
        INCIDENTS_ADDR=f"127.0.0.1:{free_port()}",
        NATS_URL=clean_nats,
        CATALOG_CACHE_TTL_S=LONG_S,
    )
    async with _serve(settings) as api:
        before = await api.get("/v1/services", params={"lang": "vi"})
        open311 = await api.get("/open311/v2/services.json")
        assert before.status_code == 200 and open311.status_code == 200
        assert catalog_service.server is not None
        await catalog_service.server.stop(0)
        after = await api.get("/v1/services", params={"lang": "vi"})
        assert after.status_code == 200 and after.content == before.content
        assert after.headers["etag"] == before.headers["etag"]
        assert (await api.get("/open311/v2/services.json")).content == open311.content
        # Another language is another answer: not in memory, so the catalog would be needed.
        assert (await api.get("/v1/services", params={"lang": "ja"})).status_code >= 500


async def test_without_the_event_feed_nothing_outlives_the_fallback_ttl() -> None:
    """NATS down: the cache is cleared at once and answers are kept only `fallback_ttl_s`; back up, live again."""
    now = [0.0]
    cache = ResponseCache(ttl_s=LONG_S, fallback_ttl_s=1.0, clock=lambda: now[0])
    nats_server = NatsServerProcess()
    nats_server.start()
    feed = CatalogCacheFeed(cache, nats_server.url)
    try:
        await feed.start()
        assert cache.live
        cache.store("services", EncodedAnswer.of({"items": []}), revision=1)
        now[0] += 10.0
        assert cache.lookup("services") is not None  # live: kept beyond the fallback TTL

        cache.store("services", EncodedAnswer.of({"items": []}), revision=1)  # fresh, just before the outage
        nats_server.stop()
        await eventually(lambda: not cache.live, 10)
        assert cache.lookup("services") is None  # the connection lost: possibly missed events
        cache.store("services", EncodedAnswer.of({"items": []}), revision=1)
        now[0] += 0.5
        assert cache.lookup("services") is not None
        now[0] += 1.0
        assert cache.lookup("services") is None  # older than the fallback TTL

        nats_server.start()
        await eventually(lambda: cache.live, 15)
    finally:
        await feed.close()
        nats_server.stop()


async def test_an_answer_read_before_an_edit_is_not_kept_after_it() -> None:
    cache = ResponseCache(ttl_s=LONG_S, fallback_ttl_s=LONG_S)
    cache.set_live(True)
    cache.store("a", EncodedAnswer.of([1]), revision=3)
    cache.note_revision(4)  # the event of an edit
    assert cache.lookup("a") is None
    cache.store("a", EncodedAnswer.of([1]), revision=3)  # a read that raced the edit
    assert len(cache) == 0 and cache.lookup("a") is None
    cache.store("a", EncodedAnswer.of([2]), revision=4)
    assert cache.lookup("a") == EncodedAnswer.of([2])


async def test_concurrent_misses_share_one_fetch_and_failures_are_not_shared() -> None:
    cache = ResponseCache(ttl_s=LONG_S, fallback_ttl_s=LONG_S)
    fetches = 0
    release = asyncio.Event()

    async def fetch() -> tuple[str, int]:
        nonlocal fetches
        fetches += 1
        await release.wait()
        return "answer", 1

    waiting = [asyncio.create_task(cache.get_or_fetch("k", fetch)) for _ in range(20)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == ["answer"] * 20
    assert fetches == 1

    attempts = 0

    async def failing() -> tuple[str, int]:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0)
        if attempts == 1:
            raise grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata())
        return "retried", 1

    first, second = await asyncio.gather(
        cache.get_or_fetch("f", failing), cache.get_or_fetch("f", failing), return_exceptions=True
    )
    assert isinstance(first, grpc.aio.AioRpcError) and second == "retried"
