"""`make run` as a newcomer uses it: every process up and SERVING, then Ctrl-C leaves nothing behind.

The platform is started by scripts/run.py (what `make run` calls) in a scratch run directory on
free ports, so it never collides with anything else on the machine (see conftest.start_make_run).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from civicbot.open311 import Open311Client  # type: ignore[import-untyped]
from civicbot.registry import Endpoint  # type: ignore[import-untyped]
from georeport import GeoReport  # type: ignore[import-untyped]

from .conftest import ROOT, descendants, start_make_run

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

        tree = descendants(run.process.pid) | {run.process.pid}
        run.interrupt()
        run.process.wait(timeout=45)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in tree) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in tree if _alive(pid)], "processes left behind after Ctrl-C"
    finally:
        if run.process.poll() is None:
            os.killpg(run.process.pid, signal.SIGKILL)
            run.process.wait()
