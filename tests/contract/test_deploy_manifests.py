"""Meta-test for the deployment files: Dockerfiles, deploy/compose.yaml and k8s/.

Needs only pyyaml and pytest (no cluster, no Docker engine). The services are
discovered from the `services/<name>/Dockerfile` folders (except the `sdk`
library), so a new service is held to the same rules as soon as it gets a
Dockerfile:

* its image builds with uv from the repo root and runs as a non-root user;
* compose builds and runs it (migrate, then serve, when it owns a database);
* k8s/base has a Deployment, Service and PodDisruptionBudget for it, with
  native gRPC probes on its port (liveness on the `cityhub.liveness` health
  service, readiness on the overall status; the gateway: HTTP /health/live and
  /health/ready), resources, the hardened securityContext and, with a
  database, a `migrate` initContainer and a CloudNativePG Cluster;
* nothing in the base looks like a real secret.

If `kubectl` (or `kustomize`) is on PATH, both overlays are also rendered.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES_DIR = ROOT / "services"
K8S = ROOT / "k8s"
BASE = K8S / "base"
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"

NOT_SERVICES = {"sdk"}  # libraries living under services/ without a process
# Known processes and their ports (the lead's table). New services are checked
# against the port their Dockerfile EXPOSEs.
KNOWN_PORTS = {
    "gateway": 8000,
    "identity": 50051,
    "catalog": 50052,
    "incidents": 50054,
    "notifications": 50055,
}
HTTP_SERVICES = {"gateway"}  # everything else is a gRPC service
STATELESS = {"gateway"}  # everything else owns a database (and migrates it)
APP_UID = 10001
LIVENESS_SERVICE = "cityhub.liveness"  # cityhub_sdk.grpc_server.LIVENESS_SERVICE


# --------------------------------------------------------------------- helpers
def discover_services() -> list[str]:
    return sorted(p.parent.name for p in SERVICES_DIR.glob("*/Dockerfile") if p.parent.name not in NOT_SERVICES)


SERVICES = discover_services()
DB_SERVICES = [s for s in SERVICES if s not in STATELESS]
GRPC_SERVICES = [s for s in SERVICES if s not in HTTP_SERVICES]


def load_all(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


@cache
def base_docs() -> tuple[dict[str, Any], ...]:
    """The documents the base kustomization lists (what kustomize would render)."""
    kust = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    docs: list[dict[str, Any]] = []
    for res in kust.get("resources", []):
        path = BASE / res
        if path.is_dir():  # a nested kustomization: take its YAML files
            for f in sorted(path.glob("*.yaml")):
                if f.name != "kustomization.yaml":
                    docs.extend(load_all(f))
        else:
            docs.extend(load_all(path))
    return tuple(docs)


def find(kind: str, name: str) -> dict[str, Any] | None:
    for doc in base_docs():
        if doc.get("kind") == kind and doc.get("metadata", {}).get("name") == name:
            return doc
    return None


def deployment(name: str) -> dict[str, Any]:
    dep = find("Deployment", name)
    assert dep is not None, f"k8s/base has no Deployment named {name!r}"
    return dep


def pod_spec(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = deployment(name)["spec"]["template"]["spec"]
    return spec


def main_container(name: str) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod_spec(name)["containers"]
    return next((c for c in containers if c["name"] == name), containers[0])


def dockerfile(name: str) -> str:
    return (SERVICES_DIR / name / "Dockerfile").read_text()


def exposed_port(name: str) -> int:
    ports = re.findall(r"^EXPOSE\s+(\d+)", dockerfile(name), re.MULTILINE)
    assert len(ports) == 1, f"services/{name}/Dockerfile must EXPOSE exactly one port"
    return int(ports[0])


def port_of(name: str) -> int:
    return KNOWN_PORTS.get(name) or exposed_port(name)


def env_value(container: dict[str, Any], key: str) -> Any:
    for item in container.get("env", []):
        if item["name"] == key:
            return item.get("value", item.get("valueFrom"))
    return None


def base_configmap_literals() -> dict[str, str]:
    kust = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    out: dict[str, str] = {}
    for gen in kust.get("configMapGenerator", []):
        for lit in gen.get("literals", []):
            key, _, value = lit.partition("=")
            out[key] = value
    return out


@cache
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return doc


# ------------------------------------------------------------ every YAML parses
ALL_YAML = sorted([*K8S.rglob("*.yaml"), *K8S.rglob("*.yml"), *DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])


@pytest.mark.parametrize("path", ALL_YAML, ids=lambda p: str(p.relative_to(ROOT)))
def test_yaml_parses(path: Path) -> None:
    docs = load_all(path)
    assert docs, f"{path} is empty"
    for doc in docs:
        assert isinstance(doc, dict), f"{path}: every document must be a mapping"


def test_services_are_discovered() -> None:
    missing = set(KNOWN_PORTS) - set(SERVICES)
    assert not missing, f"no services/<name>/Dockerfile for {sorted(missing)}"


# ------------------------------------------------------------------ Dockerfiles
@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile(name: str) -> None:
    text = dockerfile(name)
    froms = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert len(froms) >= 2, "must be a multi-stage build"
    assert "python:3.11-slim" in text, "base image must be python:3.11-slim"
    assert re.search(rf"uv sync\b[^\n]*--frozen[^\n]*--no-dev[^\n]*--package cityhub-{name}\b", text), (
        f"must install with `uv sync --frozen --no-dev ... --package cityhub-{name}`"
    )
    assert "/app/.venv" in text

    # The final stage must switch to a non-root user (uid 10001).
    final_stage = re.split(r"^FROM\s", text, flags=re.MULTILINE)[-1]
    users = re.findall(r"^USER\s+(\S+)", final_stage, re.MULTILINE)
    assert users, "runtime stage has no USER (would run as root)"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}, "runtime stage runs as root"
    assert user in {str(APP_UID), "cityhub"}, f"runtime user should be uid {APP_UID}"

    assert exposed_port(name) == port_of(name)
    entry = re.findall(r"^ENTRYPOINT\s+(.+)$", final_stage, re.MULTILINE)
    assert entry and yaml.safe_load(entry[-1]) == ["python", "-m", f"cityhub_{name}"]


@pytest.mark.parametrize("name", SERVICES)
def test_service_has_main(name: str) -> None:
    folder = SERVICES_DIR / name
    if not list(folder.glob(f"**/cityhub_{name}/*.py")):
        pytest.skip(f"services/{name} has no cityhub_{name} code yet")
    assert list(folder.glob(f"**/cityhub_{name}/__main__.py")), (
        f"cityhub_{name}/__main__.py is missing (the image runs python -m cityhub_{name})"
    )


def test_dockerignore() -> None:
    lines = {ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()}
    for pattern in (".venv", ".run", ".git", "__pycache__", "*.db"):
        assert any(pattern in ln for ln in lines if not ln.startswith("#")), f".dockerignore misses {pattern}"


# ---------------------------------------------------------------------- compose
def test_compose_infrastructure() -> None:
    services = compose()["services"]
    for infra in ("nats", "postgres", "otel-collector", "jaeger"):
        assert infra in services, f"compose has no {infra}"
    assert "-js" in services["nats"]["command"]
    init_sql = (DEPLOY / "postgres" / "init.sql").read_text()
    for name in DB_SERVICES:
        assert re.search(rf"CREATE DATABASE\s+{name}\s*;", init_sql), f"init.sql does not create {name}"
    assert any("16686" in str(p) for p in services["jaeger"].get("ports", []))


@pytest.mark.parametrize("name", SERVICES)
def test_compose_service(name: str) -> None:
    services = compose()["services"]
    assert name in services, f"deploy/compose.yaml has no service {name!r}"
    svc = services[name]
    build = svc["build"]
    assert (DEPLOY / build["context"]).resolve() == ROOT, "build context must be the repo root"
    assert build["dockerfile"] == f"services/{name}/Dockerfile"
    env = svc["environment"]
    assert env["OTEL_SERVICE_NAME"] == name
    if name in GRPC_SERVICES:
        assert str(env["GRPC_PORT"]) == str(port_of(name))
        assert env["GRPC_HOST"] == "0.0.0.0"
    if name in DB_SERVICES:
        assert env["DATABASE_URL"].endswith(f"/{name}")
        run = " ".join(map(str, [*(svc.get("entrypoint") or []), *(svc.get("command") or [])]))
        assert f"cityhub_{name} migrate" in run, "compose must migrate before serving"
    if name in HTTP_SERVICES:
        assert any(str(p).endswith(f"{port_of(name)}:{port_of(name)}") for p in svc.get("ports", []))


# ----------------------------------------------------------------- k8s: per service
HARDENED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
}


def containers_of(name: str) -> list[dict[str, Any]]:
    spec = pod_spec(name)
    return [*spec.get("initContainers", []), *spec["containers"]]


@pytest.mark.parametrize("name", SERVICES)
def test_deployment_basics(name: str) -> None:
    dep = deployment(name)
    assert dep["spec"]["replicas"] >= 2
    spec = pod_spec(name)
    assert spec["terminationGracePeriodSeconds"] == 30
    c = main_container(name)
    assert c["image"].split(":")[0] == f"cityhub/{name}"
    assert port_of(name) in [p["containerPort"] for p in c["ports"]]
    assert env_value(c, "OTEL_SERVICE_NAME") == name
    env_from = [e.get("configMapRef", {}).get("name") for e in c.get("envFrom", [])]
    assert "cityhub-env" in env_from, "shared settings come from the cityhub-env ConfigMap"


@pytest.mark.parametrize("name", SERVICES)
def test_probes(name: str) -> None:
    c = main_container(name)
    port = port_of(name)
    if name in HTTP_SERVICES:
        ready, live = c["readinessProbe"]["httpGet"], c["livenessProbe"]["httpGet"]
        assert ready["path"] == "/health/ready" and live["path"] == "/health/live"
        assert ready["port"] in (port, "http") and live["port"] in (port, "http")
    else:
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            assert c[probe]["grpc"]["port"] == port, f"{probe} must be a native grpc probe on {port}"
        # Liveness must not follow the database or NATS (an outage would restart every pod).
        assert c["livenessProbe"]["grpc"].get("service") == LIVENESS_SERVICE
        assert c["startupProbe"]["grpc"].get("service") == LIVENESS_SERVICE
        assert c["readinessProbe"]["grpc"].get("service", "") == ""
        assert env_value(c, "GRPC_PORT") == str(port)


@pytest.mark.parametrize("name", SERVICES)
def test_security_context(name: str) -> None:
    pod = pod_spec(name).get("securityContext", {})
    assert pod.get("runAsNonRoot") is True
    for c in containers_of(name):
        sc = c.get("securityContext", {})
        where = f"{name}/{c['name']}"
        for key, value in HARDENED_CONTAINER.items():
            assert sc.get(key) == value, f"{where}: securityContext.{key} must be {value}"
        assert sc.get("runAsNonRoot", pod.get("runAsNonRoot")) is True, f"{where}: runAsNonRoot"
        assert sc.get("runAsUser", pod.get("runAsUser")) == APP_UID, f"{where}: runAsUser {APP_UID}"
        assert "ALL" in sc.get("capabilities", {}).get("drop", []), f"{where}: capabilities must drop ALL"
        seccomp = sc.get("seccompProfile", pod.get("seccompProfile", {}))
        assert seccomp.get("type") == "RuntimeDefault", f"{where}: seccompProfile RuntimeDefault"
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        assert "/tmp" in mounts, f"{where}: needs a writable /tmp (emptyDir)"
        volumes = {v["name"]: v for v in pod_spec(name)["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], f"{where}: /tmp must be an emptyDir"


@pytest.mark.parametrize("name", SERVICES)
def test_resources(name: str) -> None:
    for c in containers_of(name):
        res = c.get("resources", {})
        for section in ("requests", "limits"):
            for key in ("cpu", "memory"):
                assert key in res.get(section, {}), f"{name}/{c['name']}: resources.{section}.{key}"


@pytest.mark.parametrize("name", SERVICES)
def test_migrate_init_container(name: str) -> None:
    inits = pod_spec(name).get("initContainers", [])
    migrate = [c for c in inits if c.get("args") == ["migrate"]]
    if name in STATELESS:
        assert not migrate, f"{name} has no database and must not migrate"
        return
    assert migrate, f"{name} needs a `migrate` initContainer (args: [migrate])"
    init = migrate[0]
    assert init["image"] == main_container(name)["image"], "migrate must use the service image"
    db = env_value(init, "DATABASE_URL")
    assert isinstance(db, dict) and "secretKeyRef" in db, "DATABASE_URL must come from a Secret"
    assert env_value(main_container(name), "DATABASE_URL") == db


@pytest.mark.parametrize("name", SERVICES)
def test_service_and_pdb(name: str) -> None:
    svc = find("Service", name)
    assert svc is not None, f"no Service {name}"
    assert svc["spec"]["selector"] == deployment(name)["spec"]["selector"]["matchLabels"]
    targets = [p.get("targetPort") for p in svc["spec"]["ports"]]
    names = [p["name"] for p in main_container(name)["ports"]]
    assert any(t == port_of(name) or t in names for t in targets)
    pdb = find("PodDisruptionBudget", name)
    assert pdb is not None, f"no PodDisruptionBudget {name}"
    assert pdb["spec"]["selector"]["matchLabels"] == deployment(name)["spec"]["selector"]["matchLabels"]


# ------------------------------------------------------------ k8s: shared pieces
def test_gateway_edge() -> None:
    hpa = find("HorizontalPodAutoscaler", "gateway")
    assert hpa is not None and hpa["spec"]["scaleTargetRef"]["name"] == "gateway"
    ingress = find("Ingress", "gateway")
    assert ingress is not None
    backends = [p["backend"]["service"]["name"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]]
    assert backends == ["gateway"] * len(backends) and backends


def test_shared_config() -> None:
    env = base_configmap_literals()
    # NATS is the Helm release `nats` (k8s/nats/values.yaml): pods nats-0.. behind nats-headless.
    values = yaml.safe_load((K8S / "nats" / "values.yaml").read_text())
    replicas = values["config"]["cluster"]["replicas"]
    assert replicas == 3
    urls = env["NATS_URL"].split(",")
    assert [u.split("//")[1] for u in urls] == [f"nats-{i}.nats-headless:4222" for i in range(replicas)]
    assert env["NATS_STREAM_REPLICAS"] == "3"
    assert env["GRPC_HOST"] == "0.0.0.0"
    for name in GRPC_SERVICES:
        assert env.get(f"{name.upper()}_ADDR") == f"{name}:{port_of(name)}", f"{name.upper()}_ADDR"


def test_nats_is_not_hand_written() -> None:
    """NATS comes from the official chart (values checked in test_k8s_schemas.py), not a copy here."""
    assert find("StatefulSet", "nats") is None
    values = yaml.safe_load((K8S / "nats" / "values.yaml").read_text())
    assert values["config"]["jetstream"]["fileStore"]["pvc"]["enabled"], "JetStream needs persistent volumes"
    assert values["podDisruptionBudget"]["enabled"]


@pytest.mark.parametrize("name", DB_SERVICES)
def test_database_cluster(name: str) -> None:
    cluster = find("Cluster", f"{name}-db")
    assert cluster is not None, f"k8s/base/postgres.yaml has no CloudNativePG Cluster {name}-db"
    assert cluster["spec"]["instances"] >= 3
    assert cluster["spec"]["bootstrap"]["initdb"] == {"database": name, "owner": name}
    assert env_value(main_container(name), "DATABASE_URL") == {
        "secretKeyRef": {"name": f"{name}-db-app", "key": "uri"}
    }, "DATABASE_URL must be the uri CloudNativePG generates for the service's Cluster"


def test_namespace() -> None:
    kust = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    assert kust["namespace"] == "cityhub"
    assert find("Namespace", "cityhub") is not None


# ---------------------------------------------------------------------- secrets
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE_KEY|API_KEY|ACCESS_KEY", re.IGNORECASE)
PLACEHOLDER = re.compile(r"CHANGE_?ME|<[^>]+>|\$\{[^}]+\}|example|xxx", re.IGNORECASE)
URL_CREDENTIALS = re.compile(r"://[^/\s:@]+:([^@\s]+)@")


def entropy(s: str) -> float:
    counts = Counter(s)
    return -sum(n / len(s) * math.log2(n / len(s)) for n in counts.values())


def looks_secret(key: str, value: str) -> str | None:
    if "-----BEGIN" in value:
        return "PEM block"
    if re.search(r"AKIA[0-9A-Z]{16}", value):
        return "AWS access key id"
    m = URL_CREDENTIALS.search(value)
    if m and not PLACEHOLDER.search(m.group(1)):
        return "credentials in a URL"
    if SECRET_NAME.search(key) and value and not PLACEHOLDER.search(value):
        return "literal value for a secret-looking name"
    for token in re.findall(r"[A-Za-z0-9+/=_\-]{32,}", value):
        if entropy(token) > 4.0:
            return "high-entropy token"
    return None


def base_env_values() -> list[tuple[str, str, str]]:
    """(where, key, value) for every literal env value in the base."""
    out = [("configMapGenerator", k, v) for k, v in base_configmap_literals().items()]
    for doc in base_docs():
        kind, name = doc.get("kind"), doc.get("metadata", {}).get("name")
        if kind == "ConfigMap":
            out += [(f"ConfigMap/{name}", k, str(v)) for k, v in (doc.get("data") or {}).items()]
        template = doc.get("spec", {}).get("template", {}).get("spec", {})
        for c in [*template.get("initContainers", []), *template.get("containers", [])]:
            for item in c.get("env", []):
                if "value" in item:
                    out.append((f"{kind}/{name}/{c['name']}", item["name"], str(item["value"])))
    return out


def test_base_has_no_real_secrets() -> None:
    problems = [
        f"{where}: {key} ({reason})" for where, key, value in base_env_values() if (reason := looks_secret(key, value))
    ]
    assert not problems, "secret-looking values in k8s/base:\n" + "\n".join(problems)


def test_base_does_not_ship_secrets() -> None:
    assert not [d for d in base_docs() if d.get("kind") == "Secret"], "Secrets must not be in the base resources"
    kust = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    assert "secret-example.yaml" not in kust.get("resources", [])
    assert not kust.get("secretGenerator"), "no secretGenerator with real values in the base"


def test_secret_example_is_placeholders_only() -> None:
    docs = load_all(BASE / "secret-example.yaml")
    assert docs and all(d["kind"] == "Secret" for d in docs)
    referenced = set()
    for name in SERVICES:
        for c in containers_of(name):
            for item in c.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    referenced.add((ref["name"], ref["key"]))
            for src in c.get("envFrom", []):
                if "secretRef" in src:
                    referenced.add((src["secretRef"]["name"], None))
        for vol in pod_spec(name).get("volumes", []):
            if "secret" in vol:
                referenced.add((vol["secret"]["secretName"], None))
    documented = {(d["metadata"]["name"], k) for d in docs for k in d.get("stringData", {})}
    documented |= {(d["metadata"]["name"], None) for d in docs}
    # Generated by CloudNativePG for each Cluster: `<cluster>-app` with the key `uri`.
    documented |= {(f"{d['metadata']['name']}-app", "uri") for d in base_docs() if d.get("kind") == "Cluster"}
    assert referenced <= documented, f"undocumented Secrets: {sorted(referenced - documented, key=str)}"
    for d in docs:
        for key, value in d.get("stringData", {}).items():
            assert "CHANGE_ME" in value or "CHANGE_ME" in key or not SECRET_NAME.search(key), (
                f"secret-example {d['metadata']['name']}.{key} must be a CHANGE_ME placeholder"
            )
            assert "-----BEGIN" not in value


# ------------------------------------------------------------ kustomize wiring
def kustomizations() -> list[Path]:
    return sorted(K8S.rglob("kustomization.yaml"))


@pytest.mark.parametrize("path", kustomizations(), ids=lambda p: str(p.parent.relative_to(ROOT)))
def test_kustomization_references_exist(path: Path) -> None:
    kust = yaml.safe_load(path.read_text())
    refs = [*kust.get("resources", []), *kust.get("components", [])]
    refs += [p["path"] for p in kust.get("patches", []) if "path" in p]
    for gen in kust.get("configMapGenerator", []):
        refs += [f.split("=", 1)[-1] for f in gen.get("files", [])]
    for ref in refs:
        assert (path.parent / ref).exists(), f"{path}: {ref} does not exist"


def test_tracing_component_only_adds_env() -> None:
    kust = yaml.safe_load((K8S / "components" / "tracing" / "kustomization.yaml").read_text())
    assert kust["kind"] == "Component"
    assert kust["patches"], "the component must patch the Deployments"
    for patch in kust["patches"]:
        assert patch["target"]["kind"] == "Deployment"
        for op in yaml.safe_load(patch["patch"]):
            assert op["op"] == "add" and re.search(r"/env(From)?/-$", op["path"]), op
    literals = dict(lit.split("=", 1) for g in kust["configMapGenerator"] for lit in g.get("literals", []))
    assert literals.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").endswith(":4317")


def kustomize_command() -> list[str] | None:
    if tool := shutil.which("kustomize"):
        return [tool, "build"]
    if tool := shutil.which("kubectl"):
        return [tool, "kustomize"]
    return None


KUSTOMIZE = kustomize_command()


@pytest.mark.skipif(KUSTOMIZE is None, reason="neither kustomize nor kubectl on PATH")
@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_overlay_renders(overlay: str) -> None:
    assert KUSTOMIZE is not None
    result = subprocess.run([*KUSTOMIZE, str(K8S / "overlays" / overlay)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    for name in SERVICES:
        assert name in deployments
        assert deployments[name]["metadata"]["namespace"] == "cityhub"
    if overlay == "production":
        assert deployments["gateway"]["spec"]["replicas"] == 3
        assert {"otel-collector", "jaeger"} <= set(deployments)
        for name in SERVICES:
            env_from = deployments[name]["spec"]["template"]["spec"]["containers"][0]["envFrom"]
            assert any(e.get("configMapRef", {}).get("name", "").startswith("otel-env") for e in env_from)
    else:
        assert all(deployments[n]["spec"]["replicas"] == 1 for n in SERVICES)
