"""Wait times: queue events ingested per second, and the time from a kiosk event to the new
estimate visible at the gateway.

The real catalog and waittimes services run in-process on a real NATS. Ingest: batches of 200
kiosk events (tickets issued, called, served, over every queue of the 16 demo centres) sent over
gRPC by 4 concurrent callers, as department systems would; each batch is stored, folded into its
queues' estimates and the changes staged in the outbox in one transaction. Latency: one ticket
event at a time, from the call until the gateway's projection (`cityhub_gateway.waittimes`, fed by
`queue.updated` over NATS, the way the gateway serves every read) shows the new figures.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from cityhub.waittimes.v1 import waittimes_pb2 as pb
from cityhub.waittimes.v1 import waittimes_pb2_grpc
from cityhub_catalog.app import DEFINITION as CATALOG
from cityhub_catalog.seed import seed_catalog
from cityhub_gateway.waittimes import WaitTimesProjection
from cityhub_sdk.app import running
from cityhub_sdk.auth import internal_metadata
from cityhub_sdk.db import is_sqlite
from cityhub_sdk.migrations import upgrade_async
from cityhub_sdk.testing import NatsServerProcess, free_port, service_settings
from cityhub_sdk.testing.infra import _create_database, _drop_database
from cityhub_waittimes.app import DEFINITION as WAITTIMES
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.engine import make_url

TOKEN = "bench-internal-token"
INGEST_TARGET = 2000.0
LATENCY_TARGET_S = 1.0
BATCH = 200
CALLERS = 4
K = pb.QueueEventKind


def _stamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def kiosk_batches(queues: list[tuple[str, str]], total: int) -> list[pb.RecordQueueEventsRequest]:
    """`total` events in time order per queue: counters open, then tickets issued, called, served."""
    start = datetime.now(UTC) - timedelta(hours=6)
    per_queue = max(3, total // len(queues))
    by_center: dict[str, list[pb.QueueEvent]] = {}
    for q_index, (center, queue) in enumerate(queues):
        events = by_center.setdefault(center, [])
        events.append(
            pb.QueueEvent(
                event_id=f"b{q_index}-open",
                queue=queue,
                kind=K.QUEUE_EVENT_KIND_COUNTER_OPENED,
                counter="1",
                occurred_at=_stamp(start),
            )
        )
        for n in range(per_queue // 3):
            at = start + timedelta(seconds=5 * n + 1)
            ticket = f"T{n}"
            events.append(
                pb.QueueEvent(
                    event_id=f"b{q_index}-i{n}",
                    queue=queue,
                    kind=K.QUEUE_EVENT_KIND_TICKET_ISSUED,
                    ticket=ticket,
                    occurred_at=_stamp(at),
                )
            )
            events.append(
                pb.QueueEvent(
                    event_id=f"b{q_index}-c{n}",
                    queue=queue,
                    kind=K.QUEUE_EVENT_KIND_TICKET_CALLED,
                    ticket=ticket,
                    counter="1",
                    occurred_at=_stamp(at + timedelta(seconds=1)),
                )
            )
            events.append(
                pb.QueueEvent(
                    event_id=f"b{q_index}-s{n}",
                    queue=queue,
                    kind=K.QUEUE_EVENT_KIND_TICKET_SERVED,
                    ticket=ticket,
                    occurred_at=_stamp(at + timedelta(seconds=4)),
                )
            )
    requests = []
    for center, events in by_center.items():
        events.sort(key=lambda e: (e.occurred_at.seconds, e.occurred_at.nanos))
        for offset in range(0, len(events), BATCH):
            requests.append(pb.RecordQueueEventsRequest(center_id=center, events=events[offset : offset + BATCH]))
    # Interleave the centres the way several department systems send at once.
    requests.sort(key=lambda r: (r.events[0].occurred_at.seconds, r.center_id))
    return requests


async def measure(url: str, catalog_url: str, nats_url: str, total: int, samples: int) -> dict[str, Any]:
    await upgrade_async(CATALOG.migrations, catalog_url)
    await upgrade_async(WAITTIMES.migrations, url)
    common = {"INTERNAL_API_TOKEN": TOKEN, "LOG_LEVEL": "WARNING"}
    catalog_settings = service_settings(CATALOG.settings_type, database_url=catalog_url, nats_url=nats_url, **common)
    async with running(CATALOG, catalog_settings) as catalog:
        await seed_catalog(catalog.db)
        settings = service_settings(
            WAITTIMES.settings_type, database_url=url, nats_url=nats_url, CATALOG_ADDR=catalog.address, **common
        )
        async with running(WAITTIMES, settings) as service, grpc.aio.insecure_channel(service.address) as channel:
            stub = waittimes_pb2_grpc.WaitTimesServiceStub(channel)
            metadata = internal_metadata(TOKEN)
            queues = [(s.center_id, s.queue) for s in (await stub.ListQueueStates(pb.ListQueueStatesRequest())).queues]
            requests = kiosk_batches(queues, total)
            pending = list(requests)
            started = time.monotonic()

            async def caller() -> int:
                sent = 0
                while pending:
                    request = pending.pop(0)
                    response = await stub.RecordQueueEvents(request, metadata=metadata, timeout=60)
                    sent += response.accepted
                return sent

            accepted = sum(await asyncio.gather(*(caller() for _ in range(CALLERS))))
            ingest_s = time.monotonic() - started

            projection = WaitTimesProjection(stub, nats_url)
            await projection.start()
            changed = asyncio.Event()
            apply = projection.apply

            def observed(state: pb.QueueState) -> None:
                apply(state)
                changed.set()

            projection.apply = observed  # type: ignore[method-assign]
            latencies = []
            center, queue = queues[0]
            for n in range(samples):
                await asyncio.sleep(0.02)
                before = projection.states[(center, queue)].people_waiting
                changed.clear()
                event = pb.QueueEvent(
                    event_id=f"lat-{n}",
                    queue=queue,
                    kind=K.QUEUE_EVENT_KIND_TICKET_ISSUED,
                    ticket=f"L{n}",
                    occurred_at=_stamp(datetime.now(UTC)),
                )
                sent_at = time.monotonic()
                await stub.RecordQueueEvents(
                    pb.RecordQueueEventsRequest(center_id=center, events=[event]), metadata=metadata
                )
                while projection.states[(center, queue)].people_waiting == before:
                    await asyncio.wait_for(changed.wait(), timeout=10)
                    changed.clear()
                latencies.append(time.monotonic() - sent_at)
            await projection.close()
    latencies.sort()
    return {
        "events": accepted,
        "ingest_s": ingest_s,
        "rate": accepted / ingest_s,
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "samples": len(latencies),
    }


async def run(options: Any) -> str:
    total = 6_000 if options.quick else 30_000
    samples = 50 if options.quick else 200
    nats: NatsServerProcess | None = None
    nats_url = options.nats_url
    if not nats_url:
        nats = NatsServerProcess(port=free_port())
        nats.start()
        nats_url = nats.url
    rows = []
    try:
        for label, base_url in options.database_urls.items():
            names = ("cityhub_bench_waittimes", "cityhub_bench_waittimes_catalog")
            if is_sqlite(base_url):
                paths = [options.work_dir / f"{name}.db" for name in names]
                for path in paths:
                    for suffix in ("", "-wal", "-shm"):
                        path.with_name(path.name + suffix).unlink(missing_ok=True)
                url, catalog_url = (f"sqlite+aiosqlite:///{path}" for path in paths)
            else:
                try:
                    for name in names:
                        await _drop_database(base_url, name)
                        await _create_database(base_url, name)
                except Exception as exc:  # noqa: BLE001 - PostgreSQL is optional for the bench
                    rows.append(f"| {label} | skipped ({type(exc).__name__}) | | | |")
                    continue
                url, catalog_url = (
                    make_url(base_url).set(database=name).render_as_string(hide_password=False) for name in names
                )
            try:
                result = await measure(url, catalog_url, nats_url, total, samples)
            finally:
                if not is_sqlite(base_url):
                    for name in names:
                        await _drop_database(base_url, name)
            ingest = "meets" if result["rate"] >= INGEST_TARGET else "below"
            latency = "meets" if result["p99"] < LATENCY_TARGET_S else "above"
            rows.append(
                f"| {label} | {result['events']:,} in {result['ingest_s']:.1f} s | {result['rate']:,.0f}/s ({ingest} "
                f"{INGEST_TARGET:,.0f}/s) | {result['p50'] * 1000:.0f} ms | {result['p99'] * 1000:.0f} ms ({latency} "
                f"{LATENCY_TARGET_S * 1000:.0f} ms) |"
            )
    finally:
        if nats is not None:
            nats.stop()
    return (
        "## Wait times: kiosk events in, estimates out\n\n"
        f"Kiosk events (tickets issued, called, served) over every queue of the demo centres, in batches of {BATCH} "
        f"from {CALLERS} concurrent gRPC callers into the real waittimes service (each batch stored, folded into "
        "its queues' estimates, changes staged in the outbox, one transaction); then, one ticket at a time, the time "
        f"from the call until the gateway's projection (fed by `queue.updated` over NATS) shows it, {samples} samples.\n\n"
        "| database | events ingested | events/s | event to gateway p50 | p99 |\n"
        "|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
