"""Idempotency-Key on POST /v1/incidents (multipart) and POST /v1/staff/alerts (JSON): a retry
returns the first answer (201, same id, `Idempotent-Replayed: true`) and writes nothing; the same
key with another body is 409 problem+json."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx
from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub_incidents.models import Alert, Report
from cityhub_sdk.tables import OutboxEvent
from cityhub_sdk.testing import TEST_PASSWORD, create_account
from PIL import Image
from sqlmodel import func, select

CENTRE = (47.6062, -122.3321)


async def count(service: Any, table: Any, subject: str = "") -> int:
    query = select(func.count()).select_from(table)
    if subject:
        query = query.where(OutboxEvent.subject == subject)
    async with service.db.session() as session:
        return int((await session.exec(query)).one())


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 10), (1, 2, 3)).save(out, format="PNG")
    return out.getvalue()


def form(description: str = "Deep hole", *, with_photo: bool = False) -> dict[str, Any]:
    """httpx `files=` for the multipart report (fields as parts, `attributes` as one JSON part)."""
    fields = {
        "category": "pothole",
        "description": description,
        "lat": str(CENTRE[0]),
        "lon": str(CENTRE[1]),
        "attributes": '{"size": "large"}',
        "device_id": "phone-1",
    }
    parts: dict[str, Any] = {name: (None, value) for name, value in fields.items()}
    if with_photo:
        parts["photo"] = ("p.png", photo(), "image/png")
    return parts


async def test_report_retry_with_idempotency_key_is_one_report(api: httpx.AsyncClient, incidents_service: Any) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await api.post("/v1/incidents", files=form(with_photo=True), headers=key)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = await api.post("/v1/incidents", files=form(with_photo=True), headers=key)
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and again.json()["photo_url"] == first.json()["photo_url"]
    assert await count(incidents_service, Report) == 1
    assert await count(incidents_service, OutboxEvent, "cityhub.incidents.report.created") == 1

    changed = await api.post("/v1/incidents", files=form("Different text"), headers=key)
    assert changed.status_code == 409
    assert changed.headers["content-type"].startswith("application/problem+json")
    assert "idempotency key" in changed.json()["detail"]
    assert await count(incidents_service, Report) == 1

    # Without a key, the same body is the usual duplicate 409 offering the existing report.
    plain = await api.post("/v1/incidents", files=form())
    assert plain.status_code == 409 and plain.json()["existing_report"]["id"] == first.json()["id"]
    too_long = await api.post("/v1/incidents?force=true", files=form(), headers={"Idempotency-Key": "k" * 201})
    assert too_long.status_code == 422
    assert await count(incidents_service, Report) == 1


async def test_streetlight_report_and_staff_alert_retries(
    api: httpx.AsyncClient, incidents_service: Any, identity_service: Any
) -> None:
    email = f"staff-{uuid.uuid4().hex[:8]}@lakeview.example"
    async with grpc.aio.insecure_channel(identity_service.address) as channel:
        await create_account(
            identity_pb2_grpc.IdentityServiceStub(channel), email, identity_pb2.ROLE_STAFF, department="roads"
        )
    token = (await api.post("/v1/auth/token", json={"email": email, "password": TEST_PASSWORD})).json()["access_token"]
    staff = {"Authorization": f"Bearer {token}", "Idempotency-Key": "alert-retry-1"}

    body = {
        "category": (None, "streetlight-out"),
        "description": (None, "dark"),
        "lat": (None, str(CENTRE[0])),
        "lon": (None, str(CENTRE[1])),
        "attributes": (None, '{"problem": "out"}', "application/json"),
    }
    first = await api.post("/v1/incidents", files=body, headers=staff)
    again = await api.post("/v1/incidents", files=body, headers=staff)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"] and again.headers["idempotent-replayed"] == "true"

    alert = {
        "kind": "road_closure",
        "severity": "warning",
        "area": {"type": "circle", "center": list(CENTRE), "radius_m": 400},
        "ends_at": (datetime.now(UTC) + timedelta(hours=3)).isoformat(),
        "title": {"en": "Main St closed"},
    }
    published = await api.post("/v1/staff/alerts", json=alert, headers=staff)
    retried = await api.post("/v1/staff/alerts", json=alert, headers=staff)
    assert published.status_code == retried.status_code == 201, retried.text
    assert retried.json()["id"] == published.json()["id"]
    assert await count(incidents_service, Alert) == 1
    assert await count(incidents_service, OutboxEvent, "cityhub.incidents.alert.published") == 1
    conflict = await api.post("/v1/staff/alerts", json={**alert, "severity": "urgent"}, headers=staff)
    assert conflict.status_code == 409 and conflict.headers["content-type"].startswith("application/problem+json")
    assert await count(incidents_service, Alert) == 1
