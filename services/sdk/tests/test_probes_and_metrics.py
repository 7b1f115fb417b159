"""Operations on the SDK runtime: liveness apart from readiness, and /metrics on the admin port.

A NATS outage must leave `cityhub.liveness` SERVING (no restarts) while readiness goes NOT_SERVING
(no traffic) and comes back with NATS. The admin port serves Prometheus text with the RPC, consumer
lag, redelivery and outbox figures under the labels the dashboards use.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
from cityhub.catalog.v1 import events_pb2
from cityhub_sdk.app import ServiceContext, ServiceDefinition, ServiceParts, running
from cityhub_sdk.consumer import ConsumerSpec
from cityhub_sdk.db import Database
from cityhub_sdk.events import Event
from cityhub_sdk.grpc_server import LIVENESS_SERVICE
from cityhub_sdk.outbox import add_event
from cityhub_sdk.settings import ServiceSettings
from cityhub_sdk.telemetry import sampler_from
from cityhub_sdk.testing import NatsServerProcess, eventually, service_settings
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel.ext.asyncio.session import AsyncSession

SUBJECT = "cityhub.catalog.service.updated"
SERVICE_NAME = "cityhub.probe.v1.ProbeService"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def definition(consumers: list[Any] | None = None) -> ServiceDefinition[ServiceSettings]:
    async def setup(_: ServiceContext[ServiceSettings]) -> ServiceParts:
        return ServiceParts(service_names=[SERVICE_NAME], registrations=[], consumers=consumers or [])

    return ServiceDefinition(name="probe", settings_type=ServiceSettings, migrations=Path("."), setup=setup)


@asynccontextmanager
async def health_stub(address: str) -> AsyncIterator[health_pb2_grpc.HealthStub]:
    async with grpc.aio.insecure_channel(address) as channel:
        yield health_pb2_grpc.HealthStub(channel)


async def status(stub: health_pb2_grpc.HealthStub, service: str) -> int:
    response = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
    return int(response.status)


async def test_liveness_stays_serving_while_readiness_follows_nats(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    nats = NatsServerProcess(store_dir=tmp_path / "jetstream")
    nats.start()
    settings = service_settings(
        ServiceSettings, database_url=database_url, nats_url=nats.url, OTEL_SERVICE_NAME="probe-test"
    )
    try:
        async with running(definition(), settings) as service, health_stub(service.address) as stub:
            assert await status(stub, LIVENESS_SERVICE) == SERVING
            assert await status(stub, "") == SERVING
            assert await status(stub, SERVICE_NAME) == SERVING

            nats.stop()

            async def not_ready() -> bool:
                return await status(stub, "") == NOT_SERVING and await status(stub, SERVICE_NAME) == NOT_SERVING

            await eventually(not_ready, timeout_s=20)
            assert await status(stub, LIVENESS_SERVICE) == SERVING  # an outage of NATS restarts nothing

            nats.start()  # same port, same store

            async def ready_again() -> bool:
                return await status(stub, "") == SERVING and await status(stub, SERVICE_NAME) == SERVING

            await eventually(ready_again, timeout_s=30)
            assert await status(stub, LIVENESS_SERVICE) == SERVING
    finally:
        nats.stop()


def scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Prometheus text -> sample name -> [(labels, value)]."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
    return samples


def find(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> list[float]:
    return [value for found, value in samples.get(name, []) if all(found.get(k) == v for k, v in labels.items())]


async def test_admin_port_serves_rpc_consumer_lag_and_outbox_figures(
    db: Database, database_url: str, clean_nats: str
) -> None:
    attempts: list[str] = []

    async def flaky(_: AsyncSession, event: Event) -> None:
        attempts.append(event.id)
        if len(attempts) == 1:
            raise RuntimeError("first delivery fails on purpose")

    spec = ConsumerSpec(
        durable="metrics-probe", stream="CATALOG", subjects=[SUBJECT], backoff_s=(0.2,), fetch_timeout_s=0.5
    )
    settings = service_settings(
        ServiceSettings,
        database_url=database_url,
        nats_url=clean_nats,
        OTEL_SERVICE_NAME="metrics-probe",
        METRICS_PORT=0,
        CONSUMER_LAG_INTERVAL_S=0.2,
    )
    async with running(definition([(spec, flaky)]), settings) as service, health_stub(service.address) as stub:
        assert service.metrics is not None
        url = service.metrics.url
        await status(stub, "")
        try:
            await status(stub, "no.such.Service")
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND
        async with service.db.transaction() as session:
            add_event(session, SUBJECT, events_pb2.ServiceUpdated(slug="metrics"), source="catalog")
        await eventually(lambda: len(attempts) == 2, timeout_s=20)

        def complete() -> bool:
            samples = scrape(url)
            return bool(
                find(samples, "consumer_redeliveries_total", consumer="metrics-probe", subject=SUBJECT)
                and find(samples, "consumer_pending_messages", consumer="metrics-probe", stream="CATALOG")
                and find(samples, "consumer_process_duration_seconds_count", consumer="metrics-probe", outcome="ack")
            )

        await eventually(complete, timeout_s=20)
        samples = scrape(url)

    rpc = "rpc_server_duration_seconds_count"
    health = {"rpc_service": "grpc.health.v1.Health", "rpc_method": "Check"}
    assert find(samples, rpc, **health, rpc_grpc_status_code="OK"), samples.get(rpc)
    assert find(samples, rpc, **health, rpc_grpc_status_code="NOT_FOUND"), samples.get(rpc)
    assert find(samples, "rpc_server_duration_seconds_bucket", **health, le="0.005")  # seconds, not ms buckets
    assert find(samples, "consumer_process_duration_seconds_count", consumer="metrics-probe", outcome="retry")
    assert find(samples, "consumer_pending_messages", consumer="metrics-probe", stream="CATALOG") == [0.0]
    assert find(samples, "consumer_ack_pending_messages", consumer="metrics-probe", stream="CATALOG")
    assert find(samples, "consumer_redelivered_messages", consumer="metrics-probe", stream="CATALOG")
    assert find(samples, "outbox_published_total", subject=SUBJECT)
    assert find(samples, "outbox_backlog", service="metrics-probe")


async def test_admin_port_is_off_unless_metrics_port_is_set(database_url: str, clean_nats: str) -> None:
    settings = service_settings(
        ServiceSettings, database_url=database_url, nats_url=clean_nats, OTEL_SERVICE_NAME="no-metrics"
    )
    async with running(definition(), settings) as service:
        assert service.metrics is None


def test_sampling_is_parent_based_ratio_unless_configured() -> None:
    default = sampler_from({})
    assert isinstance(default, ParentBased)
    assert "TraceIdRatioBased{1.0}" in default.get_description()
    tenth = sampler_from({"OTEL_TRACES_SAMPLER_ARG": "0.1"})
    assert "TraceIdRatioBased{0.1}" in tenth.get_description()
    chosen = sampler_from({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"})
    assert isinstance(chosen, TraceIdRatioBased) and chosen.rate == 0.25
    assert sampler_from({"OTEL_TRACES_SAMPLER": "always_off"}).get_description() == "AlwaysOffSampler"


async def test_freshness_gauge_reports_the_last_update_time(database_url: str, clean_nats: str) -> None:
    from datetime import UTC, datetime

    from cityhub_sdk.metrics import FreshnessGauge

    gauge = FreshnessGauge("probe_estimate", "when the probe estimate was last refreshed")
    assert gauge.name == "probe_estimate_updated_timestamp_seconds"
    gauge.mark({"center": "main-library"}, at=datetime(2030, 1, 1, tzinfo=UTC))
    settings = service_settings(
        ServiceSettings, database_url=database_url, nats_url=clean_nats, OTEL_SERVICE_NAME="fresh", METRICS_PORT=0
    )
    async with running(definition(), settings) as service:
        assert service.metrics is not None
        samples = await asyncio.to_thread(scrape, service.metrics.url)
    values = find(samples, "probe_estimate_updated_timestamp_seconds", center="main-library")
    assert values == [datetime(2030, 1, 1, tzinfo=UTC).timestamp()]
