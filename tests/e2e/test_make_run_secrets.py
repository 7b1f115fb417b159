"""`make run` keeps its secrets off command lines, and its gateway serves the live stream.

Any local user reads every process's command line (`ps`, /proc/*/cmdline); only the owner reads
its environment. So the internal service token must appear in no command line on the machine,
and in no file but the private ones run.py writes for its processes.
"""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest

from .conftest import MakeRun, descendants

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _command_lines() -> dict[int, bytes]:
    """pid -> raw /proc/<pid>/cmdline (NUL-separated) of every process this machine shows."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = (entry / "cmdline").read_bytes()
            except OSError:  # gone meanwhile
                continue
    return found


def test_no_command_line_holds_the_internal_token(make_run: MakeRun) -> None:
    token = make_run.internal_token().encode()
    assert len(token) >= 32
    lines = _command_lines()
    platform = descendants(make_run.process.pid)
    # The scan covers the platform's own processes: every service and the gateway are running.
    platform_lines = b"\n".join(lines.get(pid, b"") for pid in platform)
    for module in (b"cityhub_gateway", b"cityhub_identity", b"cityhub_notifications", b"nats-server"):
        assert module in platform_lines, f"{module.decode()} is not among make run's processes"
    leaking = [pid for pid, line in lines.items() if token in line]
    assert not leaking, f"the internal token is on the command line of {leaking}"

    assert token not in (make_run.run_dir / "Procfile").read_bytes()
    env_dir = make_run.run_dir / "env"
    assert stat.S_IMODE(env_dir.stat().st_mode) == 0o700
    for path in [make_run.run_dir / "internal-token", *env_dir.iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_signed_in_demo_resident_opens_the_live_stream(make_run: MakeRun) -> None:
    credentials = make_run.wait_seeded()  # .run/demo-credentials.json, as the README says
    resident = credentials["residents"][0]
    with httpx.Client(base_url=make_run.base_url, timeout=httpx.Timeout(10, read=30)) as client:
        signed_in = client.post("/v1/auth/token", json={"email": resident["email"], "password": resident["password"]})
        assert signed_in.status_code == 200, signed_in.text
        headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
        with client.stream("GET", "/v1/stream", headers=headers) as stream:
            assert stream.status_code == 200, stream.read()
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():  # the first event is `ready`; then the test hangs up
                if line.startswith("event:"):
                    assert line.split(":", 1)[1].strip() == "ready"
                    break
