"""The platform under test: `scripts/run.py` (what `make run` starts) on free loopback ports.

Every port, the run directory and (for PostgreSQL) each service's database come from the variables
the README documents, so the bench measures the platform exactly as shipped. `start()` returns the
seconds until `/health` answered 200 (scenario 8) and until the demo city was seeded.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
SERVICES = ("identity", "catalog", "waittimes", "incidents", "notifications")


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports (all held open at once while choosing)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class Platform:
    """One `scripts/run.py` process tree; `database_urls` maps a service to its URL (else SQLite)."""

    run_dir: Path
    database_urls: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    http_port: int = 0
    nats_port: int = 0
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    healthy_s: float = 0.0
    seeded_s: float = 0.0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.nats_port}"

    def database_url(self, service: str) -> str:
        return self.database_urls.get(service, f"sqlite+aiosqlite:///{self.run_dir / f'{service}.db'}")

    def credentials(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "demo-credentials.json").read_text())  # type: ignore[no-any-return]

    def gateway_env(self) -> dict[str, str]:
        """The gateway's own settings as run.py wrote them (for the empty-route ceiling)."""
        return json.loads((self.run_dir / "env" / "gateway.json").read_text())["env"]  # type: ignore[no-any-return]

    def start(self, timeout_s: float = 300.0) -> None:
        try:
            self._start(timeout_s)
        except BaseException:  # Ctrl-C or a failure half-way: leave nothing running
            self.stop()
            raise

    def _start(self, timeout_s: float) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.http_port, self.nats_port, *service_ports = free_ports(2 + len(SERVICES))
        self.ports = dict(zip(SERVICES, service_ports, strict=True))
        env = {k: v for k, v in os.environ.items() if k != "NATS_URL" and not k.startswith("OTEL_")}
        env |= {
            "CITYHUB_RUN_DIR": str(self.run_dir),
            "CITYHUB_HTTP_PORT": str(self.http_port),
            "CITYHUB_NATS_PORT": str(self.nats_port),
            "LOG_LEVEL": "WARNING",
            **{f"CITYHUB_{name.upper()}_PORT": str(port) for name, port in self.ports.items()},
            **{f"CITYHUB_{name.upper()}_DATABASE_URL": url for name, url in self.database_urls.items()},
            **self.extra_env,
        }
        log = (self.run_dir / "platform.log").open("wb")
        started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "run.py")],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() signals only what it started
        )
        deadline = started + timeout_s
        while not self.healthy_s:
            self._alive_or_fail()
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"platform not healthy within {timeout_s:.0f} s; see {self.run_dir}/platform.log")
            try:
                with urllib.request.urlopen(f"{self.base}/health", timeout=2) as response:
                    if response.status == 200:
                        self.healthy_s = time.monotonic() - started
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.1)
        while b"CityHub is running" not in (self.run_dir / "platform.log").read_bytes():
            self._alive_or_fail()
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"demo city not seeded within {timeout_s:.0f} s")
            time.sleep(0.1)
        self.seeded_s = time.monotonic() - started

    def _alive_or_fail(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            tail = (self.run_dir / "platform.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"scripts/run.py exited with {self.process.returncode}:\n{tail}")

    def stop(self) -> None:
        """Ctrl-C, as a user stops `make run`; then the process group, if anything is left."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # stragglers of our own group only
