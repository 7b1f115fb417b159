"""Notifications acceptance 1, end to end on `make run` (scripts/run.py, real processes):
resident A saves home and subscribes 500 m around it; resident B reports a pothole 200 m away;
A's inbox and live stream (SSE) get it within 2 s; C, 3 km away, gets nothing.

The platform is `make run` as a newcomer starts it (conftest.make_run): its own embedded NATS,
a scratch run directory, free ports, no setting the README does not document.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest

from .conftest import MakeRun

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
HOME = (47.6062, -122.3321)
PASSWORD = "correct horse battery staple"


def north(metres: float) -> tuple[float, float]:
    return HOME[0] + metres / 111_195.0, HOME[1]


@pytest.fixture
def platform(make_run: MakeRun) -> str:
    return make_run.base_url


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
            "attributes": json.dumps({"size": "large"}),
        }
        reported_at = time.monotonic()
        created = client.post("/v1/incidents", files={k: (None, v) for k, v in form.items()}, headers=bob)
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
