"""`make run` as a newcomer uses it: every process up and SERVING, then Ctrl-C leaves nothing behind.

The platform is started by scripts/run.py (what `make run` calls) in a scratch run directory on
free ports, so it never collides with anything else on the machine (see conftest.start_make_run).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
from cityhub_catalog.config import CatalogSettings
from cityhub_sdk.db import Database
from cityhub_sdk.testing import free_port
from civicbot.open311 import Open311Client  # type: ignore[import-untyped]
from civicbot.registry import Endpoint  # type: ignore[import-untyped]
from georeport import GeoReport  # type: ignore[import-untyped]
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import text

from .conftest import ROOT, MakeRun, descendants, start_make_run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _try_the_demo_city(base: str, credentials: dict[str, Any]) -> None:
    """What a newcomer tries first: sign in with a demo account, and an Open311 client library."""
    resident = credentials["residents"][0]
    token = requests.post(f"{base}/v1/auth/token", json=resident, timeout=10)
    assert token.status_code == 200, token.text
    me = requests.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}, timeout=10)
    assert me.status_code == 200

    client = GeoReport(f"{base}/open311/v2")  # independent client: reads make run's gateway
    services = client.get_service_list()
    assert len(services) >= 10
    definition = client.get_service_definition(services[0]["service_code"])
    assert definition["service_code"] == services[0]["service_code"]

    # A second independent client, civicbot's Open311Client, files a request with a department API
    # key after validating it against our live service definition, then reads it back.
    key = next(k["key"] for k in credentials["api_keys"] if k["department"] == "roads")
    endpoint = Endpoint(id="lakeview", name="Lakeview", base_url=f"{base}/open311/v2", write=True)
    writer = Open311Client(endpoint, jurisdiction_id="lakeview.example")
    filed = writer.create_request(
        "RD-POTHOLE",
        dry_run=False,
        confirm="SEND",
        api_key=key,
        validate_remote=True,
        lat=47.6150,
        lng=-122.3200,
        description="Deep pothole in the bus lane",
        attributes={"size": "large"},
    )
    request_id = filed.response[0]["service_request_id"]
    read_back = writer.get_request(request_id)
    assert read_back is not None and read_back["service_request_id"] == request_id
    assert read_back["status"] == "open" and read_back["service_code"] == "RD-POTHOLE"
    assert client.get_service_request(request_id)["service_request_id"] == request_id


def _wait_started(run: MakeRun, previous_log: str = "") -> None:
    """Until run.py printed its URLs in this start (the credentials file may be a previous one)."""
    deadline = time.monotonic() + 150
    while "Ctrl-C stops everything" not in run.log_tail(100_000).removeprefix(previous_log):
        if run.process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"make run did not finish starting:\n{run.log_tail()}")
        time.sleep(0.5)


def _stop_and_check_nothing_left(run: MakeRun) -> None:
    tree = descendants(run.process.pid) | {run.process.pid}
    run.interrupt()
    run.process.wait(timeout=45)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in tree) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in tree if _alive(pid)], "processes left behind after Ctrl-C"


def test_make_run_serves_every_service_and_ctrl_c_stops_all(tmp_path: Path) -> None:
    run = start_make_run(tmp_path)
    try:
        body = run.wait_healthy()
        services = body["services"]
        assert isinstance(services, dict) and services
        expected = {
            p.name for p in (ROOT / "services").iterdir() if (p / "src" / f"cityhub_{p.name}" / "__main__.py").exists()
        }
        expected -= {"gateway", "sdk"}
        assert set(services) == expected
        assert all(value == "SERVING" for value in services.values())

        # Wait for the demo seeding to finish (the URLs are printed after it) before stopping.
        if (ROOT / "scripts" / "seed_demo.py").exists():
            data = run.wait_seeded()
            assert data["residents"] and data["staff"] and data["operators"] and data["api_keys"]
            _try_the_demo_city(run.base_url, data)
        _wait_started(run)
        _stop_and_check_nothing_left(run)
    finally:
        if run.process.poll() is None:
            os.killpg(run.process.pid, signal.SIGKILL)
            run.process.wait()

    # Started again from the Ctrl-C'd run directory: already migrated and seeded, it comes up again,
    # with the same demo people (the API keys of the first start still valid, so kept).
    first_log = run.log_tail(100_000)
    first = run.credentials()
    again = start_make_run(tmp_path)
    try:
        assert set(again.wait_healthy()["services"]) == set(services)
        if first is not None:
            _wait_started(again, first_log)
            second = again.credentials()
            assert second is not None and second["api_keys"] == first["api_keys"]
            assert second["residents"] == first["residents"] and second["staff"] == first["staff"]
            _try_the_demo_city(again.base_url, second)
    finally:
        again.stop()


def _serving(port: int) -> bool:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
        except grpc.RpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


async def _departments(database_url: str) -> int:
    db = Database(database_url)
    try:
        async with db.engine.connect() as connection:
            return int((await connection.execute(text("SELECT count(*) FROM departments"))).scalar_one())
    finally:
        await db.dispose()


def test_serve_migrates_and_seeds_in_its_own_process_when_told(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    """What `make run` relies on instead of separate migrate and seed processes: `serve` alone, on an
    empty database, with MIGRATE_ON_START and SEED_ON_START, comes up SERVING with its demo data."""
    port = free_port()
    settings = {
        "OTEL_SERVICE_NAME": "catalog",
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "GRPC_PORT": str(port),
        "NATS_STREAMS_FILE": str(ROOT / "deploy" / "nats" / "streams.yaml"),
        "LOG_JSON": "false",
        "MIGRATE_ON_START": "true",
        "SEED_ON_START": "true",
    }
    log = (tmp_path / "catalog.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "cityhub_catalog"], env={**os.environ, **settings}, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 90
        while not _serving(port):
            assert process.poll() is None, (tmp_path / "catalog.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "catalog did not come up SERVING"
            time.sleep(0.2)
        assert asyncio.run(_departments(database_url)) > 0
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
    # Off unless set: Kubernetes and compose migrate in a step of their own.
    defaults = CatalogSettings(OTEL_SERVICE_NAME="catalog", DATABASE_URL=database_url, NATS_URL=nats_url, GRPC_PORT=1)
    assert not defaults.migrate_on_start and not defaults.seed_on_start
