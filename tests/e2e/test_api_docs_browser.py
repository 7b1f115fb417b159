"""The API reference at /schema renders in a real browser with the network off.

Debian's chromium, driven by Playwright (never a browser Playwright downloads), loads the page from
the gateway served over real HTTP; every request that is not to 127.0.0.1 is aborted and recorded.
The page must list every operation of /schema/openapi.json, and nothing may have left loopback.
A screenshot is kept in the test's tmp dir.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from cityhub_gateway.config import GatewaySettings
from cityhub_sdk.testing import free_port
from playwright.sync_api import Route, sync_playwright

from .conftest import UNSTARTED_PEER, GatewayServer

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

INSTALL_HINT = "install Debian's chromium: `apt-get install -y chromium` (.ci/run does)"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def chromium() -> str:
    """The system chromium; in CI (which installs it) its absence fails, elsewhere it skips saying why."""
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail(f"chromium is missing: {INSTALL_HINT}")
    pytest.skip(f"chromium is missing: {INSTALL_HINT}")


@pytest.fixture
def gateway() -> Iterator[str]:
    """The gateway alone on a free loopback port: the reference page needs no service behind it."""
    peers = {name.upper(): UNSTARTED_PEER for name in GatewaySettings.model_fields if name.endswith("_addr")}
    settings = GatewaySettings(**peers, INTERNAL_API_TOKEN="browser-test", HTTP_PORT=free_port(), LOG_JSON=False)
    server = GatewayServer(settings)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def test_api_reference_renders_every_operation_offline(gateway: str, tmp_path: Path) -> None:
    executable = chromium()
    document = httpx.get(f"{gateway}/schema/openapi.json", timeout=10).json()
    operations = [op for item in document["paths"].values() for method, op in item.items() if method in HTTP_METHODS]
    assert len(operations) > 20

    outside: list[str] = []
    errors: list[str] = []

    def loopback_only(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.route("**/*", loopback_only)
            page.on("pageerror", lambda error: errors.append(str(error)))
            response = page.goto(f"{gateway}/schema", wait_until="load")
            assert response is not None and response.status == 200
            page.get_by_text("Save a place", exact=False).first.wait_for(state="visible")
            page.screenshot(path=str(tmp_path / "api-reference.png"))

            shown = page.locator(".opblock").count()
            title = page.locator(".info .title").inner_text()
        finally:
            browser.close()

    assert shown == len(operations), f"{shown} operations shown, {len(operations)} in the document"
    assert "CityHub API" in title
    assert not errors, errors
    assert not outside, f"requests left loopback: {outside}"
