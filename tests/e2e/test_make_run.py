"""`make run` as a newcomer uses it: every process up and SERVING, then Ctrl-C leaves nothing behind.

The platform is started by scripts/run.py (what `make run` calls) in a scratch run directory on
free ports, so it never collides with anything else on the machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import requests
from cityhub_sdk.testing import free_port
from civicbot.open311 import Open311Client  # type: ignore[import-untyped]
from civicbot.registry import Endpoint  # type: ignore[import-untyped]
from georeport import GeoReport  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _descendants(pid: int) -> set[int]:
    """Every process below `pid`, read from /proc (works without psutil)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _health(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except OSError:
        return 0, {}


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
    ports: set[int] = set()
    while len(ports) < 7:  # seven distinct free ports: a repeat would make run.py refuse to start
        ports.add(free_port())
    http_port, nats_port, *service_ports = sorted(ports)
    log_path = tmp_path / "make-run.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CITYHUB_", "NATS_URL", "DATABASE_URL"))},
        "CITYHUB_RUN_DIR": str(tmp_path / "run"),
        "CITYHUB_HTTP_PORT": str(http_port),
        "CITYHUB_NATS_PORT": str(nats_port),
        **{
            f"CITYHUB_{name}_PORT": str(port)
            for name, port in zip(
                ("IDENTITY", "CATALOG", "WAITTIMES", "INCIDENTS", "NOTIFICATIONS"), service_ports, strict=True
            )
        },
    }
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "run.py")],
        env=env,
        cwd=ROOT,
        stdout=log_path.open("wb"),  # a file, not a pipe: nobody reads a pipe while it runs
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal would give it
    )
    try:
        started = time.monotonic()
        status, body = 0, {}
        while time.monotonic() - started < 60:
            status, body = _health(f"http://127.0.0.1:{http_port}/health")
            if status == 200:
                break
            if process.poll() is not None:
                output = log_path.read_text(errors="replace")
                raise AssertionError(f"make run exited during start-up:\n{output[-3000:]}")
            time.sleep(0.5)
        assert status == 200, (body, log_path.read_text(errors="replace")[-3000:])
        services = body["services"]
        assert isinstance(services, dict) and services
        expected = {
            p.name for p in (ROOT / "services").iterdir() if (p / "src" / f"cityhub_{p.name}" / "__main__.py").exists()
        }
        expected -= {"gateway", "sdk"}
        assert set(services) == expected
        assert all(value == "SERVING" for value in services.values())

        # Wait for the demo seeding to finish (the URLs are printed after it) before stopping.
        credentials = tmp_path / "run" / "demo-credentials.json"
        if (ROOT / "scripts" / "seed_demo.py").exists():
            deadline = time.monotonic() + 60
            while not credentials.exists() and time.monotonic() < deadline:
                time.sleep(0.5)
            assert credentials.exists()
            data = json.loads(credentials.read_text())
            assert data["residents"] and data["staff"] and data["operators"] and data["api_keys"]

            _try_the_demo_city(f"http://127.0.0.1:{http_port}", data)

        tree = _descendants(process.pid) | {process.pid}
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does in a terminal
        process.wait(timeout=45)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in tree) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in tree if _alive(pid)], "processes left behind after Ctrl-C"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
