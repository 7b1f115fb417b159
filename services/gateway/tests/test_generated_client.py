"""A mobile developer's view: generate a Python client from the live OpenAPI document with
`openapi-python-client` and drive a resident's whole journey with that client alone (no raw HTTP):
list services in Vietnamese, search, register, sign in, save a place, subscribe to an area, file a
report with its required attributes and a photo, list nearby incidents, read the inbox.

Bodies are built with the generated models' own `from_dict`, and answers are read through the
generated models, so a schema that does not match what the gateway really sends fails here."""

from __future__ import annotations

import asyncio
import importlib
import io
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any, get_type_hints

import httpx
import pytest
from cityhub_gateway.app import create_app
from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.config import GatewaySettings
from PIL import Image

PACKAGE = "cityhub_generated_client"
HOME = (47.6150, -122.3200)
NEIGHBOUR = (47.6160, -122.3210)  # about 140 m away: inside a 500 m area subscription


@pytest.fixture
async def transport(full_gateway_settings: GatewaySettings) -> AsyncIterator[httpx.ASGITransport]:
    clients = ServiceClients.connect(full_gateway_settings)
    try:
        yield httpx.ASGITransport(app=create_app(full_gateway_settings, clients))
    finally:
        await clients.close()


@pytest.fixture
async def generated(transport: httpx.ASGITransport, tmp_path: Path) -> ModuleType:
    """The client package generated from the spec the running gateway serves."""
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as raw:
        spec = (await raw.get("/schema/openapi.json")).json()
    spec_path = tmp_path / "openapi.json"
    spec_path.write_text(json.dumps(spec))
    config = tmp_path / "generator.json"
    # The one setting a client needs: photos are `image/*`, which the generator reads as binary when told.
    overrides = {"image/*": "application/octet-stream"}
    config.write_text(
        json.dumps({"post_hooks": [], "package_name_override": PACKAGE, "content_type_overrides": overrides})
    )
    result = await asyncio.to_thread(
        subprocess.run,
        [
            str(Path(sys.executable).parent / "openapi-python-client"),
            "generate",
            "--path",
            str(spec_path),
            "--output-path",
            str(tmp_path / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "Warning" not in output and "WARNING" not in output, f"the generator skipped parts of the spec:\n{output}"
    sys.path.insert(0, str(tmp_path))
    for name in [module for module in sys.modules if module.startswith(PACKAGE)]:
        del sys.modules[name]
    return importlib.import_module(PACKAGE)


class GeneratedApi:
    """Calls operations by operationId through the generated modules, building bodies with from_dict."""

    def __init__(self, package: ModuleType, transport: httpx.ASGITransport) -> None:
        self.package = package
        self.transport = transport
        self.token: str | None = None
        self.modules = {
            path.stem: f"{package.__name__}.api.{path.parent.name}.{path.stem}"
            for path in Path(package.__path__[0], "api").glob("*/*.py")
            if path.stem != "__init__"
        }

    def client(self) -> Any:
        args = {"transport": self.transport}
        if self.token:
            return self.package.AuthenticatedClient(base_url="http://gateway.test", token=self.token, httpx_args=args)
        return self.package.Client(base_url="http://gateway.test", httpx_args=args)

    async def call(
        self,
        operation_id: str,
        *,
        body: dict[str, Any] | None = None,
        files: dict[str, tuple[str, str, bytes]] | None = None,
        **params: Any,
    ) -> Any:
        """`files` are (file name, media type, bytes), set as the generated `File` type, as an app would."""
        module = importlib.import_module(self.modules[_snake(operation_id)])
        if body is not None:
            body_type = get_type_hints(module.asyncio_detailed)["body"]
            params["body"] = body_type.from_dict(body)
            for name, (file_name, media_type, content) in (files or {}).items():
                setattr(params["body"], name, self.package.types.File(io.BytesIO(content), file_name, media_type))
        async with self.client() as client:
            return await module.asyncio_detailed(client=client, **params)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (90, 90, 90)).save(buffer, "JPEG")
    return buffer.getvalue()


async def _signed_in(api: GeneratedApi, email: str) -> None:
    password = "correct horse battery staple"
    registered = await api.call("register", body={"email": email, "password": password, "preferred_language": "vi"})
    assert registered.status_code == 202, registered.content
    token = await api.call("signIn", body={"email": email, "password": password})
    assert token.status_code == 200, token.content
    api.token = token.parsed.access_token


async def test_a_resident_journey_with_the_generated_client_alone(
    generated: ModuleType, transport: httpx.ASGITransport
) -> None:
    anonymous = GeneratedApi(generated, transport)

    services = await anonymous.call("listServices", lang="vi")
    assert services.status_code == 200, services.content
    pothole = next(item for item in services.parsed.items if item.slug == "pothole")
    assert pothole.name == "Ổ gà trên đường"

    found = await anonymous.call("listServices", q="pot hole")
    assert found.parsed.items[0].slug == "pothole"

    ann = GeneratedApi(generated, transport)
    await _signed_in(ann, "ann.generated@example.org")
    place = await ann.call("createPlace", body={"label": "home", "latitude": HOME[0], "longitude": HOME[1]})
    assert place.status_code == 201, place.content
    subscription = await ann.call("createSubscription", body={"place_id": place.parsed.id, "radius_m": 500})
    assert subscription.status_code == 201, subscription.content

    ben = GeneratedApi(generated, transport)
    await _signed_in(ben, "ben.generated@example.org")
    report = await ben.call(
        "createIncident",
        body={
            "category": "pothole",
            "description": "Deep hole by the bus stop",
            "lat": NEIGHBOUR[0],
            "lon": NEIGHBOUR[1],
            "attributes": {"size": "large"},
        },
        files={"photo": ("hole.jpg", "image/jpeg", _jpeg())},
    )
    assert report.status_code == 201, report.content
    report_id = report.parsed.id
    assert report.parsed.photo_url
    photo = await anonymous.call("getIncidentPhoto", report_id=report_id)
    assert photo.status_code == 200 and photo.content.startswith(b"\xff\xd8")  # the stored JPEG, EXIF-free

    nearby = await anonymous.call("listNearbyIncidents", lat=HOME[0], lon=HOME[1], radius_m=1000)
    assert nearby.status_code == 200, nearby.content
    assert report_id in [item.id for item in nearby.parsed.items]

    for _ in range(100):  # the notification crosses NATS; wait for it, bounded
        inbox = await ann.call("listNotifications")
        assert inbox.status_code == 200, inbox.content
        if any(item.report_id == report_id for item in inbox.parsed.items if hasattr(item, "report_id")) or any(
            report_id in json.dumps(item.to_dict()) for item in inbox.parsed.items
        ):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("ann's inbox never got the report near her home")
