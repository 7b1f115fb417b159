"""The delivery metric as exported through OpenTelemetry (an InMemoryMetricReader on the process's
meter provider) after a real email delivery, and GetDeliveryStats for operators only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from cityhub.identity.v1 import identity_pb2
from cityhub.notifications.v1 import notifications_pb2 as pb
from cityhub_sdk import subjects
from cityhub_sdk.app import RunningService
from cityhub_sdk.telemetry import configure_telemetry
from cityhub_sdk.testing import bearer, create_account, eventually, sign_in
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from .conftest import Publish, ResidentFactory
from .test_inbox import HOME, north_of, report_created, subscribe_home


@pytest.fixture
def metric_reader() -> Iterator[InMemoryMetricReader]:
    """Sees what the process measures from now on (added to the one process-wide meter provider)."""
    reader = InMemoryMetricReader()
    configure_telemetry("notifications-tests", metric_reader=reader)
    yield reader
    provider = metrics.get_meter_provider()
    assert isinstance(provider, MeterProvider)
    provider.remove_metric_reader(reader)


def points(reader: InMemoryMetricReader) -> dict[str, dict[str, float]]:
    """metric name -> channel (or "") -> value."""
    found: dict[str, dict[str, float]] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            if scope.scope.name != "cityhub_notifications":
                continue
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    channel = str((point.attributes or {}).get("channel", ""))
                    found.setdefault(metric.name, {})[channel] = point.value  # type: ignore[union-attr]
    return found


async def test_delivery_metric_is_exported_after_an_email(
    metric_reader: InMemoryMetricReader, residents: ResidentFactory, publish: Publish, smtp_server: Any
) -> None:
    _, sink = smtp_server
    ann = await residents("ann@example.org")
    await subscribe_home(ann)
    await publish(subjects.INCIDENTS_REPORT_CREATED, report_created("r-m", north_of(HOME, 100)))
    await eventually(lambda: len(sink.messages) == 1, 15)

    def exported() -> bool:
        return points(metric_reader).get("notifications_handed_total", {}).get("email") == 1

    await eventually(exported, 10)
    seen = points(metric_reader)
    assert seen["notifications_handed_total"] == {"inbox": 1, "email": 1}
    assert seen["notifications_handed_within_10s_total"] == {"inbox": 1, "email": 1}
    assert seen["notifications_handed_within_10s_ratio"][""] == 1.0


async def test_delivery_stats_for_operators_only(
    residents: ResidentFactory,
    publish: Publish,
    smtp_server: Any,
    identity_service: RunningService,  # type: ignore[type-arg]
) -> None:
    _, sink = smtp_server
    ann = await residents("ann@example.org")
    await subscribe_home(ann)
    await publish(subjects.INCIDENTS_REPORT_CREATED, report_created("r-s", north_of(HOME, 100)))
    await eventually(lambda: len(sink.messages) == 1, 15)

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ann.notifications.GetDeliveryStats(pb.GetDeliveryStatsRequest(), metadata=ann.metadata)
    assert error.value.code() == grpc.StatusCode.PERMISSION_DENIED

    await create_account(ann.identity, "ops@example.org", identity_pb2.ROLE_OPERATOR)
    operator = bearer(await sign_in(ann.identity, "ops@example.org"))

    async def stats() -> pb.GetDeliveryStatsResponse:
        return await ann.notifications.GetDeliveryStats(pb.GetDeliveryStatsRequest(), metadata=operator)

    async def delivered() -> bool:
        return any(c.channel == "email" and c.delivered == 1 for c in (await stats()).channels)

    await eventually(delivered, 10)
    result = await stats()
    assert result.notifications == 1 and result.handed_within_10s == 1 and result.handed_within_10s_ratio == 1.0
    by_channel = {c.channel: c for c in result.channels}
    assert set(by_channel) == {"email"}
    assert by_channel["email"].failed_permanent == 0 and by_channel["email"].pending == 0
