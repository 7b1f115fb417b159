"""Incidents through the gateway: reports (multipart + photo), duplicates as 409, strict query
validation (acceptance 3), privacy between residents (acceptance 4), staff routes, alerts, Open311.

A report is multipart/form-data as the OpenAPI document describes it: text parts, `attributes` as
one part holding a JSON object (what a client generated from the document sends), an optional
`photo` file."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx
from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub_sdk.auth import internal_metadata
from cityhub_sdk.tables import OutboxEvent
from cityhub_sdk.testing import TEST_INTERNAL_TOKEN, TEST_PASSWORD, create_account
from PIL import Image
from sqlmodel import func, select

CENTRE = (47.6062, -122.3321)


def moved(north_m: float) -> tuple[float, float]:
    return CENTRE[0] + north_m / 111_195.0, CENTRE[1]


def pothole_form(lat: float, lon: float, **extra: str) -> dict[str, str]:
    return {
        "category": "pothole",
        "description": "Deep hole",
        "lat": str(lat),
        "lon": str(lon),
        "attributes": '{"size": "large"}',
        **extra,
    }


def multipart(form: dict[str, str], photo: tuple[str, bytes, str] | None = None) -> dict[str, Any]:
    """httpx `files=`: every field a form-data part (even without a photo), the photo a file part."""
    parts: dict[str, Any] = {name: (None, value) for name, value in form.items()}
    if photo is not None:
        parts["photo"] = photo
    return parts


async def staff_headers(
    identity_service: Any, api: httpx.AsyncClient, department: str, role: int = identity_pb2.ROLE_STAFF
) -> dict[str, str]:
    email = f"staff-{uuid.uuid4().hex[:8]}@lakeview.example"
    async with grpc.aio.insecure_channel(identity_service.address) as channel:
        await create_account(identity_pb2_grpc.IdentityServiceStub(channel), email, role, department=department)
    token = (await api.post("/v1/auth/token", json={"email": email, "password": TEST_PASSWORD})).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def api_key(identity_service: Any, department: str) -> str:
    async with grpc.aio.insecure_channel(identity_service.address) as channel:
        response = await identity_pb2_grpc.IdentityServiceStub(channel).CreateApiKey(
            identity_pb2.CreateApiKeyRequest(department=department, label="open311 tests"),
            metadata=internal_metadata(TEST_INTERNAL_TOKEN),
        )
    return response.key


async def rows(service: Any, table: Any) -> int:
    async with service.db.session() as session:
        return int((await session.exec(select(func.count()).select_from(table))).one())


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (40, 30), (10, 120, 200))
    exif = Image.Exif()
    exif.get_ifd(0x8825)[2] = (47.0, 36.0, 22.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


async def test_report_with_photo_then_duplicate_is_409_with_the_report_to_follow(api, sign_in) -> None:  # type: ignore[no-untyped-def]
    ann = await sign_in("ann@example.org")
    created = await api.post(
        "/v1/incidents", files=multipart(pothole_form(*CENTRE), ("p.jpg", jpeg_with_gps(), "image/jpeg")), headers=ann
    )
    assert created.status_code == 201, created.text
    report = created.json()
    assert report["department"] == "roads" and report["mine"] and report["following"]
    photo = await api.get(report["photo_url"])
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    assert not Image.open(io.BytesIO(photo.content)).getexif()

    near = await api.post("/v1/incidents", files=multipart(pothole_form(*moved(40))))
    assert near.status_code == 409
    assert near.headers["content-type"].startswith("application/problem+json")
    assert near.json()["existing_report"]["id"] == report["id"]
    assert near.json()["follow_url"] == f"/v1/incidents/{report['id']}/follow"
    assert "contact" not in near.json()["existing_report"]
    assert (await api.post("/v1/incidents", files=multipart(pothole_form(*moved(400))))).status_code == 201
    assert (await api.post("/v1/incidents?force=true", files=multipart(pothole_form(*moved(40))))).status_code == 201
    not_image = await api.post(
        "/v1/incidents", files=multipart(pothole_form(*moved(1500)), ("x.jpg", b"not an image", "image/jpeg"))
    )
    assert not_image.status_code == 422 and not_image.headers["content-type"].startswith("application/problem+json")
    too_big = await api.post(
        "/v1/incidents",
        files=multipart(pothole_form(*moved(1500)), ("big.jpg", b"\xff" * (5 * 1024 * 1024 + 1), "image/jpeg")),
    )
    assert too_big.status_code == 413 and too_big.json()["errors"][0]["field"] == "photo"
    not_a_photo = await api.post(
        "/v1/incidents", files=multipart(pothole_form(*moved(1500)), ("notes.txt", b"hello", "text/plain"))
    )
    assert not_a_photo.status_code == 422 and not_a_photo.json()["errors"][0]["field"] == "photo"


async def test_report_as_a_generated_client_sends_it(api) -> None:  # type: ignore[no-untyped-def]
    """openapi-python-client's multipart: every part typed, an object as one JSON part, bools as
    Python spells them; a JSON or URL-encoded body is not the documented form (415)."""
    parts = [
        ("category", (None, b"streetlight-out", "text/plain")),
        ("lat", (None, str(CENTRE[0]).encode(), "text/plain")),
        ("lon", (None, str(CENTRE[1]).encode(), "text/plain")),
        ("description", (None, b"dark", "text/plain")),
        ("force", (None, b"True", "text/plain")),
        ("attributes", (None, b'{"problem": "out"}', "application/json")),
    ]
    created = await api.post("/v1/incidents", files=parts)
    assert created.status_code == 201, created.text
    assert created.json()["attributes"] == {"problem": "out"} and created.json()["status_group"] == "open"
    body = {"category": "pothole", "lat": CENTRE[0], "lon": CENTRE[1], "attributes": {"size": "large"}}
    as_json = await api.post("/v1/incidents", json=body)
    assert as_json.status_code == 415 and as_json.headers["content-type"].startswith("application/problem+json")
    as_urlencoded = await api.post("/v1/incidents", data=pothole_form(*CENTRE))
    assert as_urlencoded.status_code == 415
    for attributes in ("{", "[1, 2]", '{"size": 3}', '"large"'):
        wrong = await api.post("/v1/incidents", files=multipart(pothole_form(*CENTRE, attributes=attributes)))
        assert wrong.status_code == 422 and wrong.headers["content-type"].startswith("application/problem+json")
    # The old `attribute[code]` fields are refused, not silently dropped.
    old_style = {k: v for k, v in pothole_form(*CENTRE).items() if k != "attributes"} | {"attribute[size]": "large"}
    assert (await api.post("/v1/incidents", files=multipart(old_style))).status_code == 422


async def test_acceptance_3_fuzzed_coordinates_are_422_problem_json_and_write_nothing(api, incidents_service) -> None:  # type: ignore[no-untyped-def]
    bad_values = [
        "nan",
        "NaN",
        "inf",
        "-inf",
        "Infinity",
        "1e999",
        "181",
        "-180.0001",
        "abc",
        "",
        "0x10",
        "47,6",
        "None",
    ]
    for value in bad_values:
        for field in ("lat", "lon"):
            params = {"lat": str(CENTRE[0]), "lon": str(CENTRE[1]), "radius_m": "500", field: value}
            response = await api.get("/v1/incidents", params=params)
            assert response.status_code == 422, (field, value, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            form = pothole_form(*CENTRE)
            form[field] = value
            posted = await api.post("/v1/incidents", files=multipart(form))
            assert 400 <= posted.status_code < 500 and posted.headers["content-type"].startswith(
                "application/problem+json"
            ), (field, value)
    for radius in ("0", "-1", "5001", "1e12", "nan", "inf", "lots"):
        response = await api.get("/v1/incidents", params={"lat": CENTRE[0], "lon": CENTRE[1], "radius_m": radius})
        assert response.status_code == 422, radius
    for extra in ({"lat": "True"}, {"lon": "[1]"}, {"radius_m": "5"}, {"force": "maybe"}):
        posted = await api.post("/v1/incidents", files=multipart({**pothole_form(*CENTRE), **extra}))
        assert posted.status_code == 422, extra
    missing = {k: v for k, v in pothole_form(*CENTRE).items() if k != "lat"}
    assert (await api.post("/v1/incidents", files=multipart(missing))).status_code == 422
    for raw in ('{"lat": Infinity, "lon": 1}', '{"lat": NaN, "lon": 1}', '{"lat": 1e999, "lon": 1}', "[1, 2]", "{"):
        posted = await api.post("/v1/incidents", content=raw, headers={"content-type": "application/json"})
        assert 400 <= posted.status_code < 500 and posted.headers["content-type"].startswith(
            "application/problem+json"
        ), raw
    outside = await api.post("/v1/incidents", files=multipart(pothole_form(0.0, 0.0)))
    assert outside.status_code == 422
    from cityhub_incidents.models import Report

    assert await rows(incidents_service, Report) == 0
    assert await rows(incidents_service, OutboxEvent) == 0
    alerts = await api.get("/v1/alerts", params={"lat": "nan", "lon": "1"})
    assert alerts.status_code == 422


async def test_acceptance_4_resident_b_cannot_see_resident_a_contact_through_any_route(
    api, sign_in, identity_service
) -> None:  # type: ignore[no-untyped-def]
    a = await sign_in("alice@example.org")
    b = await sign_in("bob@example.org")
    created = await api.post(
        "/v1/incidents",
        files=multipart(
            pothole_form(
                *CENTRE,
                contact_name="Alice Private",
                contact_email="alice.private@example.org",
                contact_phone="+12065550199",
            )
        ),
        headers=a,
    )
    report_id = created.json()["id"]
    assert created.json()["contact"]["email"] == "alice.private@example.org"
    secrets = ("Alice Private", "alice.private@example.org", "5550199", "alice@example.org")
    waste = await staff_headers(identity_service, api, "waste")
    for headers in (b, {}, waste):
        for url in (
            f"/v1/incidents/{report_id}",
            f"/v1/incidents?lat={CENTRE[0]}&lon={CENTRE[1]}&radius_m=300",
            "/open311/v2/requests.json",
            f"/open311/v2/requests/{report_id}.json",
            "/open311/v2/requests.xml",
        ):
            response = await api.get(url, headers=headers)
            assert response.status_code == 200, (url, response.text)
            assert not any(s in response.text for s in secrets), url
            assert "reporter" not in response.text and "account_id" not in response.text
        duplicate = await api.post("/v1/incidents", files=multipart(pothole_form(*moved(10))), headers=headers)
        assert duplicate.status_code == 409 and not any(s in duplicate.text for s in secrets)
    assert (await api.get(f"/v1/staff/incidents/{report_id}", headers=b)).status_code == 403
    assert (await api.get(f"/v1/staff/incidents/{report_id}", headers=waste)).status_code == 403
    export = await api.get("/v1/me/export", headers=b)
    assert export.status_code == 200 and not any(s in export.text for s in secrets)
    roads = await staff_headers(identity_service, api, "roads")
    staff_view = await api.get(f"/v1/staff/incidents/{report_id}", headers=roads)
    assert staff_view.json()["contact"]["email"] == "alice.private@example.org"
    own_export = await api.get("/v1/me/export", headers=a)
    assert own_export.json()["incidents"]["reports"][0]["id"] == report_id


async def test_follow_staff_lifecycle_and_alerts(api, sign_in, identity_service) -> None:  # type: ignore[no-untyped-def]
    report_id = (await api.post("/v1/incidents", files=multipart(pothole_form(*CENTRE)))).json()["id"]
    assert (await api.post(f"/v1/incidents/{report_id}/follow")).status_code == 401
    bob = await sign_in("bob2@example.org")
    followed = await api.post(f"/v1/incidents/{report_id}/follow", headers=bob)
    assert followed.status_code == 200 and followed.json()["follower_count"] == 1
    roads = await staff_headers(identity_service, api, "roads")
    waste = await staff_headers(identity_service, api, "waste")
    expected = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    body = {"status": "scheduled", "public_note": "Friday", "internal_note": "crew 7", "expected_at": expected}
    assert (await api.post(f"/v1/staff/incidents/{report_id}/status", json=body, headers=waste)).status_code == 403
    assert (await api.post(f"/v1/staff/incidents/{report_id}/status", json=body, headers=bob)).status_code == 403
    changed = await api.post(f"/v1/staff/incidents/{report_id}/status", json=body, headers=roads)
    assert changed.status_code == 200 and changed.json()["status"] == "scheduled"
    public = (await api.get(f"/v1/incidents/{report_id}")).json()
    assert [h["new_status"] for h in public["history"]] == ["open", "scheduled"] and "crew 7" not in str(public)
    assert public["expected_at"] is not None
    listed = (await api.get("/v1/staff/incidents", headers=roads)).json()["items"]
    assert [r["id"] for r in listed] == [report_id]
    assert (await api.get("/v1/staff/incidents", headers=waste)).json()["items"] == []
    # Department scoping is the incidents service's: naming another department is refused.
    other = await api.get("/v1/staff/incidents", params={"department": "roads"}, headers=waste)
    assert other.status_code == 403
    opened = await api.get("/v1/staff/incidents", params={"status_group": "open"}, headers=roads)
    closed = await api.get("/v1/staff/incidents", params={"status_group": "closed"}, headers=roads)
    assert [r["id"] for r in opened.json()["items"]] == [report_id] and closed.json()["items"] == []
    staff_view = (await api.get(f"/v1/staff/incidents/{report_id}", headers=roads)).json()
    assert [n["text"] for n in staff_view["staff_notes"]] == ["crew 7"]
    for status in ("bogus", "duplicate", ""):
        refused = await api.post(
            f"/v1/staff/incidents/{report_id}/status", json={**body, "status": status}, headers=roads
        )
        assert refused.status_code == 422 and refused.json()["errors"], status
    naive = await api.post(
        f"/v1/staff/incidents/{report_id}/status", json={**body, "expected_at": "2030-01-01T10:00:00"}, headers=roads
    )
    assert naive.status_code == 422
    noted = await api.post(f"/v1/staff/incidents/{report_id}/notes", json={"text": "check drain"}, headers=roads)
    assert noted.status_code == 200 and [n["text"] for n in noted.json()["staff_notes"]] == ["crew 7", "check drain"]

    alert = {
        "kind": "road_closure",
        "severity": "warning",
        "area": {"type": "circle", "center": list(CENTRE), "radius_m": 300},
        "ends_at": (datetime.now(UTC) + timedelta(hours=3)).isoformat(),
        "title": {"en": "Main St closed", "ja": "メイン通り通行止め"},
        "body": {"en": "Use Pine St"},
    }
    for area in (
        {"type": "square", "center": list(CENTRE)},
        {"type": "circle", "center": [91, 0], "radius_m": 300},
        {"type": "circle", "center": list(CENTRE), "radius_m": 5},
        {"type": "polygon", "coordinates": [list(CENTRE), list(CENTRE)]},
    ):
        refused = await api.post("/v1/staff/alerts", json={**alert, "area": area}, headers=roads)
        assert refused.status_code == 422, area
    published = await api.post("/v1/staff/alerts", json=alert, headers=roads)
    assert published.status_code == 201, published.text
    assert published.json()["area"] == {"type": "circle", "center": list(CENTRE), "radius_m": 300}
    triangle = [list(moved(5000)), list(moved(5100)), [moved(5000)[0], CENTRE[1] + 0.002]]
    polygon = await api.post(
        "/v1/staff/alerts", json={**alert, "area": {"type": "polygon", "coordinates": triangle}}, headers=roads
    )
    assert polygon.status_code == 201 and polygon.json()["area"]["type"] == "polygon", polygon.text
    assert (await api.delete(f"/v1/staff/alerts/{polygon.json()['id']}", headers=roads)).status_code == 200
    assert (await api.post("/v1/staff/alerts", json=alert, headers=bob)).status_code == 403
    here = (await api.get("/v1/alerts", params={"lat": CENTRE[0], "lon": CENTRE[1], "lang": "ja"})).json()
    assert [a["title"] for a in here["items"]] == ["メイン通り通行止め"]
    assert (await api.get("/v1/alerts", params={"lat": 47.68, "lon": -122.30})).json()["items"] == []
    ended = await api.delete(f"/v1/staff/alerts/{published.json()['id']}", headers=roads)
    assert ended.status_code == 200 and ended.json()["state"] == "ended"
    assert (await api.get("/v1/alerts", params={"lat": CENTRE[0], "lon": CENTRE[1]})).json()["items"] == []


async def test_open311_post_with_api_key_and_read_back(api, identity_service) -> None:  # type: ignore[no-untyped-def]
    form = {
        "service_code": "RD-POTHOLE",
        "lat": str(CENTRE[0]),
        "long": str(CENTRE[1]),
        "description": "Pothole reported through Open311",
        "attribute[size]": "small",
        "email": "open311.person@example.org",
        "first_name": "Olive",
    }
    missing = await api.post("/open311/v2/requests.json", data=form)
    assert missing.status_code == 400 and missing.json()[0]["code"] == 400
    wrong = await api.post("/open311/v2/requests.json", data={**form, "api_key": "nope"})
    assert wrong.status_code in (401, 403) and "description" in wrong.json()[0]
    bad_attribute = await api.post(
        "/open311/v2/requests.json",
        data={**form, "api_key": await api_key(identity_service, "roads"), "attribute[size]": "huge"},
    )
    assert bad_attribute.status_code == 400 and "size" in bad_attribute.json()[0]["description"]
    key = await api_key(identity_service, "roads")
    posted = await api.post("/open311/v2/requests.json", data={**form, "api_key": key})
    assert posted.status_code == 201, posted.text
    request_id = posted.json()[0]["service_request_id"]
    assert isinstance(request_id, str)
    one = (await api.get(f"/open311/v2/requests/{request_id}.json")).json()
    assert len(one) == 1 and one[0]["status"] == "open" and one[0]["service_code"] == "RD-POTHOLE"
    assert one[0]["agency_responsible"] == "roads" and one[0]["service_name"] == "Pothole"
    assert one[0]["requested_datetime"][-6:] in ("-08:00", "-07:00")
    assert "open311.person" not in str(one) and "Olive" not in str(one)
    xml = await api.get(f"/open311/v2/requests/{request_id}.xml")
    assert (
        xml.headers["content-type"].startswith("text/xml")
        and f"<service_request_id>{request_id}</service_request_id>" in xml.text
    )
    everything = (
        await api.get("/open311/v2/requests.json", params={"status": "open", "service_code": "RD-POTHOLE"})
    ).json()
    assert [r["service_request_id"] for r in everything] == [request_id]
    assert (await api.get("/open311/v2/requests.json", params={"status": "closed"})).json() == []
    too_long = await api.get(
        "/open311/v2/requests.json", params={"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}
    )
    assert too_long.status_code == 400 and too_long.json()[0]["code"] == 400
    missing_one = await api.get("/open311/v2/requests/nope.json")
    assert missing_one.status_code == 404 and missing_one.json()[0]["code"] == 404
    # Typed filters still answer in Open311's error format.
    for params in ({"status": "pending"}, {"start_date": "last week"}, {"jurisdiction_id": "elsewhere.example"}):
        refused = await api.get("/open311/v2/requests.json", params=params)
        assert refused.status_code in (400, 404) and refused.json()[0]["code"] == refused.status_code, params
    as_json = await api.post("/open311/v2/requests.json", json={**form, "api_key": key})
    assert as_json.status_code == 400 and "form-encoded" in as_json.json()[0]["description"]
    as_xml = await api.post("/open311/v2/requests.xml", data={**form, "api_key": key, "lat": str(moved(3000)[0])})
    assert as_xml.status_code == 201 and "<service_request_id>" in as_xml.text, as_xml.text
    # Open311's open/closed is the incidents service's status group.
    roads = await staff_headers(identity_service, api, "roads")
    fixed = await api.post(f"/v1/staff/incidents/{request_id}/status", json={"status": "fixed"}, headers=roads)
    assert fixed.status_code == 200 and fixed.json()["status_group"] == "closed"
    closed = (await api.get("/open311/v2/requests.json", params={"status": "closed"})).json()
    assert [r["service_request_id"] for r in closed] == [request_id] and closed[0]["status"] == "closed"
