"""Wait times through the gateway, on a real HTTP server (uvicorn, so Server-Sent Events stream),
with every service and NATS: a kiosk feed moves the estimate and a stream watching the centre gets
it (acceptance 1), centre answers carry wait times, open data, busy hours within opening hours, and
a remote check-in notified in the resident's language at 3 ahead and when called (acceptance 3)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from cityhub_gateway.app import create_app
from cityhub_gateway.config import GatewaySettings
from cityhub_sdk.app import RunningService
from cityhub_sdk.testing import FAST_AUTH_ENV, eventually, free_port, start_service
from cityhub_sdk.testing.plugin import DatabaseFactory
from cityhub_waittimes.app import DEFINITION as WAITTIMES

from .test_incidents_api import api_key
from .test_notifications_api import next_event, resident

CENTER, QUEUE = "city-hall", "payments"
EVENTS = f"/v1/staff/service-centers/{CENTER}/queue-events"


@pytest.fixture
def gateway_settings(full_gateway_settings: GatewaySettings, waittimes_service: RunningService) -> GatewaySettings:  # type: ignore[type-arg]
    """Every service, NATS and waittimes."""
    return full_gateway_settings.model_copy(update={"waittimes_addr": waittimes_service.address})


def kiosk_event(event_id: str, kind: str, at: datetime, *, ticket: str = "", counter: str = "") -> dict[str, str]:
    return {
        "id": event_id,
        "queue": QUEUE,
        "kind": kind,
        "occurred_at": at.isoformat(),
        "ticket": ticket,
        "counter": counter,
    }


def served_morning(start: datetime) -> list[dict[str, str]]:
    """Two counters open and 8 tickets served: enough for an estimate."""
    events = [kiosk_event(f"o{c}", "counter_opened", start, counter=str(c)) for c in (1, 2)]
    at = start
    for n in range(8):
        at += timedelta(seconds=50)
        events.append(kiosk_event(f"i{n}", "ticket_issued", at, ticket=f"A{n}"))
        events.append(
            kiosk_event(f"c{n}", "ticket_called", at + timedelta(seconds=20), ticket=f"A{n}", counter=str(n % 2 + 1))
        )
        events.append(kiosk_event(f"s{n}", "ticket_served", at + timedelta(seconds=20 + 200 + n * 10), ticket=f"A{n}"))
    return events


def waiting(start: datetime, count: int, prefix: str = "W") -> list[dict[str, str]]:
    return [
        kiosk_event(f"{prefix}{n}", "ticket_issued", start + timedelta(seconds=n), ticket=f"{prefix}{n:03d}")
        for n in range(count)
    ]


async def payments(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.get(f"/v1/service-centers/{CENTER}/wait-times")
    assert response.status_code == 200, response.text
    return next(q for q in response.json()["queues"] if q["queue"] == QUEUE)


async def test_twenty_tickets_move_the_estimate_and_a_stream_watching_the_centre_gets_it(
    http: httpx.AsyncClient, identity_service: Any
) -> None:
    key = {"X-API-Key": await api_key(identity_service, "taxes")}
    start = datetime.now(UTC) - timedelta(minutes=30)
    fed = await http.post(EVENTS, json={"events": served_morning(start)}, headers=key)
    assert fed.status_code == 200 and fed.json() == {"accepted": 26, "duplicates": 0, "too_late": 0}, fed.text
    await eventually(lambda: _estimated(http), 10)
    before = await payments(http)

    ann = await resident(http, "ann.waits@example.org")
    async with http.stream("GET", f"/v1/stream?centers={CENTER}", headers=ann, timeout=30) as stream:
        assert stream.status_code == 200
        lines = stream.aiter_lines()
        await next_event(lines, "ready")
        twenty = await http.post(EVENTS, json={"events": waiting(datetime.now(UTC), 20)}, headers=key)
        assert twenty.json()["accepted"] == 20

        async def update() -> dict[str, Any]:
            while True:
                pushed = await next_event(lines, "wait_times")
                queue = pushed["queues"][0]
                if queue["queue"] == QUEUE and queue["people_waiting"] == before["people_waiting"] + 20:
                    return queue

        pushed = await asyncio.wait_for(update(), timeout=15)
    assert pushed["estimate"]["expected_s"] > before["estimate"]["expected_s"]
    after = await payments(http)
    assert after["people_waiting"] == before["people_waiting"] + 20
    assert (
        after["estimate"]["state"] == "estimated"
        and after["estimate"]["expected_s"] == pushed["estimate"]["expected_s"]
    )

    # The same batch again is a no-op; other departments and residents may not feed the queue.
    assert (await http.post(EVENTS, json={"events": waiting(start, 20)}, headers=key)).json()["duplicates"] == 20
    roads = {"X-API-Key": await api_key(identity_service, "roads")}
    assert (await http.post(EVENTS, json={"events": waiting(start, 1, "X")}, headers=roads)).status_code == 403
    assert (await http.post(EVENTS, json={"events": waiting(start, 1, "X")}, headers=ann)).status_code == 403
    assert (await http.post(EVENTS, json={"events": waiting(start, 1, "X")})).status_code == 401
    assert (await http.get("/v1/stream?centers=atlantis", headers=ann)).status_code == 422


async def test_the_lifespan_loads_the_projection_before_any_request_and_closes_it(
    gateway_settings: GatewaySettings,
) -> None:
    app = create_app(gateway_settings)
    async with app.lifespan():
        projection = app.state.waittimes_projection
        assert (CENTER, QUEUE) in projection.states  # the snapshot, loaded at start-up
        connection = projection._connection
        assert connection is not None and connection.is_connected
    assert app.state.waittimes_projection is None and connection.is_closed


async def test_a_gateway_started_before_waittimes_serves_its_figures_once_it_runs(
    full_gateway_settings: GatewaySettings,
    catalog_service: RunningService,  # type: ignore[type-arg]
    identity_service: RunningService,  # type: ignore[type-arg]
    database_factory: DatabaseFactory,
    clean_nats: str,
) -> None:
    """As under `make run`, where every process starts at once: the gateway does not wait for waittimes."""
    port = free_port()
    app = create_app(full_gateway_settings.model_copy(update={"waittimes_addr": f"127.0.0.1:{port}"}))
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as api,
    ):
        assert (await api.get(f"/v1/service-centers/{CENTER}/wait-times")).status_code == 503
        page = await api.get(f"/v1/service-centers/{CENTER}")
        assert page.status_code == 200 and page.json().get("wait_times") is None  # the catalog answer stands

        async with start_service(
            WAITTIMES,
            database_factory,
            clean_nats,
            GRPC_PORT=port,
            CATALOG_ADDR=catalog_service.address,
            IDENTITY_ADDR=identity_service.address,
            **FAST_AUTH_ENV,
        ):

            async def served() -> bool:
                return (await api.get(f"/v1/service-centers/{CENTER}/wait-times")).status_code == 200

            await eventually(served, 30)
            page = await api.get(f"/v1/service-centers/{CENTER}")
            assert any(q["queue"] == QUEUE for q in page.json()["wait_times"]["queues"])


async def _estimated(http: httpx.AsyncClient) -> bool:
    return (await payments(http))["estimate"]["state"] == "estimated"


async def test_centre_answers_carry_wait_times_and_open_data_has_queue_monitors(
    http: httpx.AsyncClient, identity_service: Any
) -> None:
    key = {"X-API-Key": await api_key(identity_service, "taxes")}
    await http.post(EVENTS, json={"events": served_morning(datetime.now(UTC) - timedelta(minutes=30))}, headers=key)
    await eventually(lambda: _estimated(http), 10)

    page = await http.get(f"/v1/service-centers/{CENTER}")
    assert page.status_code == 200 and page.headers["cache-control"] == "public, max-age=10"
    body = page.json()
    assert body["name"] and body["queues"]  # the catalog's fields stay
    queues = {q["queue"]: q for q in body["wait_times"]["queues"]}
    assert (
        queues[QUEUE]["estimate"]["state"] == "estimated"
        and queues["records"]["estimate"]["state"] == "not_enough_data"
    )
    listing = (await http.get("/v1/service-centers")).json()
    assert all("wait_times" in c for c in listing["items"]) and len(listing["items"]) >= 10

    monitors = (await http.get("/v1/open-data/queues")).json()
    mine = next(m for m in monitors if m["id"] == f"urn:ngsi-ld:QueueMonitor:{CENTER}:{QUEUE}")
    assert mine["type"] == "QueueMonitor" and mine["serviceStatus"] == "Open" and mine["ticketServed"] == "A7"
    assert mine["ticketsToServe"] == 0 and mine["location"]["type"] == "Point" and mine["officeName"]
    assert "account" not in json.dumps(monitors)
    assert (await http.get("/v1/service-centers/atlantis/wait-times")).status_code == 404


async def test_busy_hours_offer_open_hours_only_best_first(http: httpx.AsyncClient, identity_service: Any) -> None:
    key = {"X-API-Key": await api_key(identity_service, "taxes")}
    tz = ZoneInfo("America/Los_Angeles")
    today = datetime.now(tz).replace(minute=0, second=0, microsecond=0)
    hours = []
    for days_ago in range(7, 15):
        day = today - timedelta(days=days_ago)
        for hour in range(0, 24):
            start = day.replace(hour=hour)
            wait = 600 + (hour - 12) ** 2 * 30  # quietest around noon in this history
            hours.append(
                {"queue": QUEUE, "hour_start": start.isoformat(), "arrivals": 10, "waits": 10, "mean_wait_s": wait}
            )
    imported = await http.post(f"/v1/staff/service-centers/{CENTER}/queue-history", json={"hours": hours}, headers=key)
    assert imported.status_code == 200 and imported.json()["imported"] == len(hours)

    response = await http.get(f"/v1/service-centers/{CENTER}/busy-hours?days=7")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["timezone"] == "America/Los_Angeles"
    slots = next(q for q in body["queues"] if q["queue"] == QUEUE)["slots"]
    assert slots, "a week always has open hours at city hall"
    for slot in slots:
        local = datetime.fromisoformat(slot["starts_at"]).astimezone(tz)
        assert local.weekday() < 5 and (local.hour, local.minute) >= (8, 30) and local.hour < 17  # Mon-Fri 08:30-17:00
    best = body["best"]
    assert best and [b["expected_wait_s"] for b in best] == sorted(b["expected_wait_s"] for b in best)
    assert datetime.fromisoformat(best[0]["starts_at"]).astimezone(tz).hour in (11, 12)


async def test_a_check_in_is_notified_in_the_residents_language_at_three_ahead_and_when_called(
    http: httpx.AsyncClient, identity_service: Any
) -> None:
    key = {"X-API-Key": await api_key(identity_service, "taxes")}
    now = datetime.now(UTC)
    await http.post(EVENTS, json={"events": served_morning(now - timedelta(minutes=30))}, headers=key)
    await http.post(EVENTS, json={"events": waiting(now - timedelta(minutes=2), 6)}, headers=key)
    vi = await resident(http, "lan@example.org", preferred_language="vi")
    created = await http.post(f"/v1/service-centers/{CENTER}/check-ins", json={"queue": QUEUE}, headers=vi)
    assert created.status_code == 201, created.text
    ticket = created.json()
    assert ticket["status"] == "waiting" and ticket["people_ahead"] == 6 and ticket["estimate"]["state"] == "estimated"
    other = await resident(http, "tom@example.org")
    assert (
        await http.post(f"/v1/service-centers/{CENTER}/check-ins", json={"queue": "nope"}, headers=other)
    ).status_code == 422

    async def call(ticket_no: str, counter: str = "1") -> None:
        at = datetime.now(UTC)
        event = kiosk_event(f"call-{ticket_no}", "ticket_called", at, ticket=ticket_no, counter=counter)
        assert (await http.post(EVENTS, json={"events": [event]}, headers=key)).status_code == 200

    async def inbox() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await http.get("/v1/me/notifications", headers=vi)).json()["items"]
        return items

    # A no-show at the kiosk frees a place; then two calls leave 3 ahead.
    at = datetime.now(UTC)
    no_show = kiosk_event("ns-W000", "ticket_no_show", at, ticket="W000")
    await http.post(EVENTS, json={"events": [no_show]}, headers=key)
    mine = (await http.get("/v1/me/check-ins", headers=vi)).json()["items"]
    assert mine[0]["people_ahead"] == 5
    assert await inbox() == []
    for ticket_no in ("W001", "W002"):
        await call(ticket_no)

    async def notified(event_type: str) -> bool:
        return any(n["event_type"] == event_type for n in await inbox())

    await eventually(lambda: notified("checkin.reminded"), 15)
    reminder = next(n for n in await inbox() if n["event_type"] == "checkin.reminded")
    assert reminder["lang"] == "vi" and reminder["title"].startswith("Sắp đến lượt bạn") and "3" in reminder["body"]

    for ticket_no in ("W003", "W004", "W005"):
        await call(ticket_no)
    await call(ticket["ticket"], counter="2")
    await eventually(lambda: notified("checkin.called"), 15)
    called = next(n for n in await inbox() if n["event_type"] == "checkin.called")
    assert called["lang"] == "vi" and called["title"].startswith("Đến lượt bạn") and "quầy 2" in called["body"]
    assert [n["event_type"] for n in await inbox()].count("checkin.reminded") == 1
    mine = (await http.get("/v1/me/check-ins", headers=vi)).json()["items"]
    assert mine[0]["status"] == "called" and mine[0]["counter"] == "2"

    second = await http.post(f"/v1/service-centers/{CENTER}/check-ins", json={"queue": QUEUE}, headers=other)
    cancelled = await http.delete(f"/v1/me/check-ins/{second.json()['id']}", headers=other)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (await http.delete(f"/v1/me/check-ins/{second.json()['id']}", headers=other)).status_code == 409
    assert (await http.get("/v1/me/check-ins")).status_code == 401
