"""The ceilings each scenario is compared with, measured in the same run on the same machine.

* empty route: the gateway's own `main()` (its server, server options and settings) serving a
  Litestar app with one empty route instead of the real app, driven by wrk like the scenarios;
* gRPC unary: a bare grpc.aio server in one process, a client with 32 calls in flight in another;
* NATS: nats-py core publish -> subscriber, and JetStream publish (acked) -> pull consume, on the
  platform's own nats-server.

`python ceilings.py empty-gateway` / `grpc-server PORT` / `grpc-client ADDR SECONDS` are the
child processes.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
GRPC_METHOD = "/bench.Echo/Call"
GRPC_IN_FLIGHT = 32


# -- empty Litestar route under the gateway's server -----------------------------------------


def _empty_gateway() -> None:
    """The gateway's `main()` with `create_app` replaced by an app that has one empty route."""
    import cityhub_gateway.__main__ as gateway_main
    import cityhub_gateway.app as gateway_app
    from litestar import Litestar, get

    @get("/empty", sync_to_thread=False)
    def empty() -> dict[str, str]:
        return {}

    def create_app(settings: Any) -> Litestar:
        return Litestar(route_handlers=[empty], openapi_config=None, logging_config=None)

    gateway_main.create_app = create_app  # type: ignore[attr-defined]
    gateway_app.create_app = create_app  # type: ignore[assignment]
    gateway_main.main()


class EmptyGateway:
    """A child process serving `/empty` with the gateway's settings (`env`) on `port`."""

    def __init__(self, env: dict[str, str], port: int, metrics_port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/empty"
        child_env = {**os.environ, **env, "HTTP_PORT": str(port), "METRICS_PORT": str(metrics_port)}
        child_env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        self.process = subprocess.Popen(
            [sys.executable, str(HERE), "empty-gateway"], env=child_env, stdout=subprocess.DEVNULL
        )

    def wait_ready(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the empty-route gateway exited")
            try:
                with urllib.request.urlopen(self.url, timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the empty-route gateway did not answer")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- bare gRPC unary ---------------------------------------------------------------------------


async def _grpc_server(port: int) -> None:
    import grpc

    async def call(request: bytes, context: Any) -> bytes:
        return request

    handler = grpc.method_handlers_generic_handler("bench.Echo", {"Call": grpc.unary_unary_rpc_method_handler(call)})
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


async def _grpc_client(address: str, seconds: float) -> None:
    import grpc

    latencies: list[float] = []
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.unary_unary(GRPC_METHOD)
        payload = b"x" * 64
        for _ in range(50):
            await call(payload)
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                await call(payload)
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(GRPC_IN_FLIGHT)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    print(
        json.dumps(
            {
                "rps": len(latencies) / elapsed,
                "p50_ms": latencies[len(latencies) // 2],
                "p99_ms": latencies[int(len(latencies) * 0.99)],
            }
        )
    )


class GrpcServerProcess:
    def __init__(self, port: int) -> None:
        self.address = f"127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, str(HERE), "grpc-server", str(port)], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the gRPC ceiling server did not start")

    def measure(self, seconds: float) -> dict[str, float]:
        output = subprocess.run(
            [sys.executable, str(HERE), "grpc-client", self.address, str(seconds)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


# -- nats-py publish / consume -----------------------------------------------------------------


async def nats_core(url: str, messages: int, size: int = 256) -> float:
    """Messages/s from one publishing connection to a subscriber on another, all delivered."""
    import nats

    publisher, subscriber = await nats.connect(url), await nats.connect(url)
    received = 0
    done = asyncio.Event()

    async def on_message(_: Any) -> None:
        nonlocal received
        received += 1
        if received >= messages:
            done.set()

    subject = f"bench.ceiling.core.{time.monotonic_ns()}"
    await subscriber.subscribe(subject, cb=on_message)
    await subscriber.flush()
    payload = b"x" * size
    started = time.perf_counter()
    for _ in range(messages):
        await publisher.publish(subject, payload)
    await publisher.flush()
    await asyncio.wait_for(done.wait(), timeout=120)
    elapsed = time.perf_counter() - started
    await publisher.close()
    await subscriber.close()
    return messages / elapsed


async def nats_jetstream(url: str, messages: int, size: int = 256) -> float:
    """Messages/s through a file-backed JetStream stream: acked publishes (100 in flight), then a
    durable pull consumer fetching batches of 256 and acking each message (as our consumers do)."""
    import nats

    connection = await nats.connect(url)
    js = connection.jetstream()
    name = f"BENCH_CEILING_{time.monotonic_ns()}"
    subject = f"bench.ceiling.js.{name.lower()}"
    await js.add_stream(name=name, subjects=[subject])
    payload = b"x" * size
    try:
        started = time.perf_counter()
        for offset in range(0, messages, 100):
            await asyncio.gather(*(js.publish(subject, payload) for _ in range(min(100, messages - offset))))
        pull = await js.pull_subscribe(subject, durable="bench", stream=name)
        consumed = 0
        while consumed < messages:
            for message in await pull.fetch(256, timeout=10):
                await message.ack()
                consumed += 1
        elapsed = time.perf_counter() - started
    finally:
        await js.delete_stream(name)
        await connection.close()
    return messages / elapsed


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "empty-gateway":
        _empty_gateway()
    elif mode == "grpc-server":
        asyncio.run(_grpc_server(int(sys.argv[2])))
    elif mode == "grpc-client":
        asyncio.run(_grpc_client(sys.argv[2], float(sys.argv[3])))
    else:
        sys.exit(f"unknown mode {mode}")
