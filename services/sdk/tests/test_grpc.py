"""gRPC runtime: default deadlines, health with readiness, graceful stop, against real servers."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from cityhub_sdk.grpc_client import create_channel, service_config
from cityhub_sdk.grpc_server import GrpcServer
from grpc_health.v1 import health_pb2, health_pb2_grpc


def _slow_handler(delay_s: float) -> grpc.GenericRpcHandler:
    async def slow(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        await asyncio.sleep(delay_s)
        return request

    handler = grpc.unary_unary_rpc_method_handler(slow)
    return grpc.method_handlers_generic_handler("tests.Slow", {"Echo": handler})


async def test_call_without_timeout_gets_the_default_deadline() -> None:
    server = GrpcServer(
        host="127.0.0.1",
        port=0,
        service_names=["tests.Slow"],
        registrations=[lambda s: s.add_generic_rpc_handlers((_slow_handler(30.0),))],
    )
    await server.start()
    channel = create_channel(server.address, default_timeout_s=0.5)
    try:
        echo = channel.unary_unary("/tests.Slow/Echo")
        started = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await echo(b"hi")  # no timeout given by the caller
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - started < 5
    finally:
        await channel.close()
        await server.stop(0)


async def test_health_follows_readiness_and_graceful_shutdown() -> None:
    ready = True

    async def check() -> bool:
        return ready

    server = GrpcServer(
        host="127.0.0.1",
        port=0,
        service_names=["tests.Slow"],
        registrations=[lambda s: s.add_generic_rpc_handlers((_slow_handler(0.0),))],
        readiness_checks=[check],
        readiness_interval_s=0.1,
    )
    await server.start()
    channel = create_channel(server.address)
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        response = await stub.Check(health_pb2.HealthCheckRequest(service="tests.Slow"))
        assert response.status == health_pb2.HealthCheckResponse.SERVING
        ready = False
        await asyncio.sleep(0.4)
        response = await stub.Check(health_pb2.HealthCheckRequest(service=""))
        assert response.status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        await channel.close()
        await server.stop(0)


def test_only_read_methods_are_retried() -> None:
    from cityhub.catalog.v1 import catalog_pb2

    config = service_config([catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"]])
    retried = {entry["method"] for entry in config["methodConfig"][0]["name"]}
    assert "GetService" in retried and "ListServices" in retried
    assert "RegisterDepartmentService" not in retried
    assert config["methodConfig"][0]["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]
