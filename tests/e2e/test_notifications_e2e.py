"""Notifications acceptance 1, end to end on `make run` (scripts/run.py, real processes):
resident A saves home and subscribes 500 m around it; resident B reports a pothole 200 m away;
A's inbox and live stream (SSE) get it within 2 s; C, 3 km away, gets nothing.

The platform runs in a scratch run directory on free ports. NATS is started by the test and
given to run.py as NATS_URL, so that the gateway (which inherits the environment) can serve
/v1/stream.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import httpx
import pytest
from cityhub_sdk.testing import NatsServerProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.e2e, pytest.mark.slow]
HOME = (47.6062, -122.3321)
PASSWORD = "correct horse battery staple"


def north(metres: float) -> tuple[float, float]:
    return HOME[0] + metres / 111_195.0, HOME[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def platform(tmp_path: Path) -> Any:
    nats = NatsServerProcess(store_dir=tmp_path / "nats")
    nats.start()
    http_port = free_port()
    env = {
        **os.environ,
        "CITYHUB_RUN_DIR": str(tmp_path / "run"),
        "CITYHUB_HTTP_PORT": str(http_port),
        "NATS_URL": nats.url,
        "LOG_LEVEL": "WARNING",
        **{
            f"CITYHUB_{name}_PORT": str(free_port())
            for name in ("IDENTITY", "CATALOG", "WAITTIMES", "INCIDENTS", "NOTIFICATIONS")
        },
    }
    log = (tmp_path / "run.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "run.py")],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 180
        while not (_healthy(f"{base}/health") and (tmp_path / "run" / "demo-credentials.json").exists()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("make run did not start:\n" + (tmp_path / "run.log").read_text()[-4000:])
            time.sleep(0.5)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
        nats.stop()


def resident(client: httpx.Client, email: str) -> dict[str, str]:
    assert client.post("/v1/auth/register", json={"email": email, "password": PASSWORD}).status_code == 202
    token = client.post("/v1/auth/token", json={"email": email, "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def subscribe(client: httpx.Client, headers: dict[str, str], at: tuple[float, float]) -> None:
    place = client.post("/v1/me/places", json={"label": "home", "latitude": at[0], "longitude": at[1]}, headers=headers)
    assert place.status_code == 201, place.text
    created = client.post(
        "/v1/me/subscriptions", json={"place_id": place.json()["id"], "radius_m": 500}, headers=headers
    )
    assert created.status_code == 201, created.text


def test_nearby_pothole_reaches_inbox_and_stream_within_2s_and_not_3km_away(platform: str) -> None:
    with httpx.Client(base_url=platform, timeout=10) as client:
        ann, bob, cho = (resident(client, f"{name}-{time.time_ns()}@example.org") for name in ("ann", "bob", "cho"))
        subscribe(client, ann, HOME)
        subscribe(client, cho, north(3000))

        ready = threading.Event()
        received: list[tuple[float, dict[str, Any]]] = []

        def listen() -> None:
            with (
                httpx.Client(base_url=platform, timeout=httpx.Timeout(10, read=30)) as sse,
                sse.stream("GET", "/v1/stream", headers=ann) as stream,
            ):
                assert stream.status_code == 200
                event = ""
                for line in stream.iter_lines():
                    if line.startswith("event:"):
                        event = line.split(":", 1)[1].strip()
                        if event == "ready":
                            ready.set()
                    elif line.startswith("data:") and event == "notification":
                        received.append((time.monotonic(), json.loads(line.split(":", 1)[1])))
                        return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert ready.wait(10), "the stream did not open"
        form = {
            "category": "pothole",
            "description": "Deep hole",
            "lat": str(north(200)[0]),
            "lon": str(HOME[1]),
            "attribute[size]": "large",
        }
        reported_at = time.monotonic()
        created = client.post("/v1/incidents", data=form, headers=bob)
        assert created.status_code == 201, created.text
        listener.join(timeout=10)
        assert received, "nothing arrived on A's stream"
        arrived_at, pushed = received[0]
        assert arrived_at - reported_at < 2.0, f"the stream took {arrived_at - reported_at:.2f} s"
        assert pushed["data"]["report_id"] == created.json()["id"]

        inbox = client.get("/v1/me/notifications", headers=ann).json()
        assert [item["id"] for item in inbox["items"]] == [pushed["id"]]
        time.sleep(1)
        assert client.get("/v1/me/notifications", headers=cho).json()["items"] == []
