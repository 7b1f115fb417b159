"""Health: a status page for people, and the two probes for the orchestrator.

- `GET /health` reports each backend's readiness; 200 when all serve, 503 (same body) otherwise.
  It is a status page and must not be a probe: one backend down would take every replica out.
- `GET /health/live` (livenessProbe): 200 whenever the gateway answers at all.
- `GET /health/ready` (readinessProbe): 200 once the gateway has its clients, whatever the
  backends do: a backend that is down degrades only its own routes (they answer 503).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

import grpc
import msgspec
from grpc_health.v1 import health_pb2, health_pb2_grpc
from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec

from cityhub_gateway.clients import ServiceClients


class HealthOut(msgspec.Struct):
    status: Literal["ok", "degraded"]
    services: Annotated[
        dict[str, str],
        msgspec.Meta(description="Service name -> SERVING, NOT_SERVING, UNKNOWN, UNREACHABLE or a gRPC status"),
    ]


async def _check(stub: health_pb2_grpc.HealthStub) -> str:
    try:
        response = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))
    except grpc.aio.AioRpcError as exc:
        return (
            "UNREACHABLE"
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
            else exc.code().name
        )


class ProbeOut(msgspec.Struct):
    status: Literal["ok", "unavailable"]


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get(
        "/",
        operation_id="getHealth",
        summary="Health of the gateway and every service",
        cache=False,
        responses={503: ResponseSpec(HealthOut, description="Some service is not serving", generate_examples=False)},
    )
    async def health(self, clients: NamedDependency[ServiceClients]) -> Response[HealthOut]:
        names = list(clients.health)
        statuses = await asyncio.gather(*(_check(clients.health[name]) for name in names))
        services = dict(zip(names, statuses, strict=True))
        healthy = all(status == "SERVING" for status in services.values())
        return Response(
            HealthOut(status="ok" if healthy else "degraded", services=services),
            status_code=200 if healthy else 503,
        )

    @get(
        "/live",
        operation_id="getLiveness",
        summary="Liveness: the gateway process serves",
        cache=False,
    )
    async def live(self) -> ProbeOut:
        return ProbeOut(status="ok")

    @get(
        "/ready",
        operation_id="getReadiness",
        summary="Readiness: the gateway can take traffic (a backend being down does not change it)",
        cache=False,
        responses={503: ResponseSpec(ProbeOut, description="Still starting or stopping", generate_examples=False)},
    )
    async def ready(self, state: State) -> Response[ProbeOut]:
        ready = getattr(state, "clients", None) is not None
        return Response(ProbeOut(status="ok" if ready else "unavailable"), status_code=200 if ready else 503)
