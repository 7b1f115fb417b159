"""Every rendered manifest is valid Kubernetes, and production runs only what was pinned.

* Built-in kinds are validated offline against the official JSON schemas that the
  `kubernetes-validate` package ships (strict: unknown fields fail), for KUBERNETES_VERSION.
* No package ships the CloudNativePG (Cluster, ScheduledBackup) or Barman Cloud plugin
  (ObjectStore) CRD schemas, so their documents are checked structurally against the fields we
  use, as written down below from CloudNativePG 1.30 and plugin-barman-cloud 0.14: unknown keys,
  missing required keys, wrong types and values outside an enum fail. A field not listed here
  must be added to SHAPES after checking it in the CRD.
* NATS is the official Helm chart: k8s/nats/values*.yaml are checked for the keys of chart 2.14.2
  that we use, three clustered servers with JetStream on file storage, and the same server
  version as the tests run.
* Production: every container image (and CloudNativePG imageName, and the NATS values) is pinned
  by a sha256 digest; a tag alone fails.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
NATS_VALUES = ROOT / "k8s" / "nats"
OVERLAYS = sorted(p.name for p in (ROOT / "k8s" / "overlays").iterdir() if (p / "kustomization.yaml").exists())
KUBERNETES_VERSION = "1.32.0"  # the oldest minor the manifests promise to run on (see k8s/README.md)
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")

Docs = list[dict[str, Any]]


# ------------------------------------------------------------------ structural CRD check
class Enum(tuple[str, ...]):
    """A string field restricted to these values."""


STR, INT, BOOL = str, int, bool
STR_MAP = {"*": STR}  # any key, string values
META = {"!name": STR, "namespace": STR, "labels": STR_MAP, "annotations": STR_MAP}
SECRET_KEY = {"!name": STR, "!key": STR}
PLUGIN = {"!name": STR, "enabled": BOOL, "isWALArchiver": BOOL, "parameters": STR_MAP}

SHAPES: dict[tuple[str, str], dict[str, Any]] = {
    ("postgresql.cnpg.io/v1", "Cluster"): {
        "!instances": INT,
        "description": STR,
        "imageName": STR,
        "primaryUpdateStrategy": Enum(("unsupervised", "supervised")),
        "enableSuperuserAccess": BOOL,
        "bootstrap": {
            "initdb": {"database": STR, "owner": STR},
            "recovery": {"source": STR, "database": STR, "owner": STR, "recoveryTarget": {"targetTime": STR}},
        },
        "externalClusters": [{"!name": STR, "plugin": PLUGIN}],
        "postgresql": {"parameters": STR_MAP},
        "storage": {"size": STR, "storageClass": STR},
        "affinity": {"enablePodAntiAffinity": BOOL, "topologyKey": STR},
        "resources": {"requests": STR_MAP, "limits": STR_MAP},
        "plugins": [PLUGIN],
    },
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): {
        "!schedule": STR,
        "!cluster": {"!name": STR},
        "backupOwnerReference": Enum(("none", "self", "cluster")),
        "target": Enum(("primary", "prefer-standby")),
        "method": Enum(("barmanObjectStore", "volumeSnapshot", "plugin")),
        "pluginConfiguration": {"!name": STR, "parameters": STR_MAP},
        "immediate": BOOL,
        "suspend": BOOL,
    },
    ("barmancloud.cnpg.io/v1", "ObjectStore"): {
        "retentionPolicy": STR,
        "!configuration": {
            "!destinationPath": STR,
            "endpointURL": STR,
            "s3Credentials": {
                "accessKeyId": SECRET_KEY,
                "secretAccessKey": SECRET_KEY,
                "region": SECRET_KEY,
                "inheritFromIAMRole": BOOL,
            },
            "wal": {"compression": Enum(("bzip2", "gzip", "lz4", "snappy", "xz", "zstd")), "maxParallel": INT},
            "data": {"compression": Enum(("bzip2", "gzip", "lz4", "snappy")), "jobs": INT},
        },
    },
}


def shape_problems(value: Any, shape: Any, where: str) -> list[str]:
    if isinstance(shape, Enum):
        return [] if value in shape else [f"{where}: {value!r} is not one of {list(shape)}"]
    if isinstance(shape, type):
        ok = isinstance(value, shape) and not (shape is INT and isinstance(value, bool))
        return [] if ok else [f"{where}: expected {shape.__name__}, got {type(value).__name__}"]
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        return [p for i, item in enumerate(value) for p in shape_problems(item, shape[0], f"{where}[{i}]")]
    if not isinstance(value, dict):
        return [f"{where}: expected a mapping"]
    problems = []
    allowed = {k.lstrip("!"): s for k, s in shape.items()}
    problems += [f"{where}: missing {k[1:]}" for k in shape if k.startswith("!") and k[1:] not in value]
    for key, item in value.items():
        sub = allowed.get(key, allowed.get("*"))
        if sub is None:
            problems.append(f"{where}: unknown field {key!r}")
        else:
            problems += shape_problems(item, sub, f"{where}.{key}")
    return problems


def crd_problems(doc: dict[str, Any]) -> list[str]:
    shape = SHAPES[(doc["apiVersion"], doc["kind"])]
    where = f"{doc['kind']}/{doc['metadata'].get('name')}"
    problems = shape_problems(doc, {"!apiVersion": STR, "!kind": STR, "!metadata": META, "!spec": shape}, where)
    spec = doc.get("spec", {})
    if doc["kind"] == "ScheduledBackup" and len(str(spec.get("schedule", "")).split()) != 6:
        problems.append(f"{where}: schedule must have six fields (seconds first)")
    if doc["kind"] == "ObjectStore" and not re.fullmatch(r"[1-9][0-9]*[dwm]", str(spec.get("retentionPolicy", "1d"))):
        problems.append(f"{where}: retentionPolicy must look like 30d")
    if doc["kind"] == "Cluster" and isinstance(spec.get("instances"), int) and spec["instances"] < 1:
        problems.append(f"{where}: instances must be >= 1")
    return problems


def validate(doc: dict[str, Any]) -> list[str]:
    if (doc.get("apiVersion"), doc.get("kind")) in SHAPES:
        return crd_problems(doc)
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}: {exc.message} at {list(exc.path)}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{doc.get('kind')} ({doc.get('apiVersion')}): no schema; add it to SHAPES after checking its CRD"]
    return []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_manifests_validate(overlay: str, render: Callable[[str], Docs]) -> None:
    docs = render(overlay)
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "ConfigMap", "Cluster"} <= kinds
    problems = [p for doc in docs for p in validate(doc)]
    assert not problems, "\n".join(problems)


def test_production_has_the_operational_pieces(render: Callable[[str], Docs]) -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for d in render("production")}
    for name in ("identity-db", "catalog-db", "incidents-db", "notifications-db"):
        assert ("Cluster", name) in kinds
        assert ("ScheduledBackup", f"{name}-nightly") in kinds
    assert ("ObjectStore", "cityhub-pg-backups") in kinds
    assert ("NetworkPolicy", "default-deny") in kinds
    assert ("PersistentVolumeClaim", "jaeger-badger") in kinds


def test_the_validators_catch_mistakes(render: Callable[[str], Docs]) -> None:
    docs = render("production")
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    assert validate(deployment) and "livenessprobe" in validate(deployment)[0]
    cluster = next(d for d in docs if d["kind"] == "Cluster")
    cluster["spec"]["instances"] = "3"
    cluster["spec"]["bootstrap"]["initdb"]["databse"] = "x"
    name = cluster["metadata"]["name"]
    assert sorted(crd_problems(cluster)) == [
        f"Cluster/{name}.spec.bootstrap.initdb: unknown field 'databse'",
        f"Cluster/{name}.spec.instances: expected int, got str",
    ]
    backup = next(d for d in docs if d["kind"] == "ScheduledBackup")
    backup["spec"]["schedule"] = "0 3 * * *"
    del backup["spec"]["cluster"]
    assert len(crd_problems(backup)) == 2


# ------------------------------------------------------------------ images by digest
def images(docs: Docs) -> list[tuple[str, str]]:
    out = []
    for doc in docs:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] == "Cluster":
            out.append((where, doc["spec"].get("imageName", "<operator default>")))
        pod = doc.get("spec", {}).get("template", {}).get("spec", {})
        for c in [*pod.get("initContainers", []), *pod.get("containers", [])]:
            out.append((f"{where}/{c['name']}", c["image"]))
    return out


def undigested(docs: Docs) -> list[str]:
    return [f"{where}: {image}" for where, image in images(docs) if not DIGEST.search(image)]


def test_production_images_are_pinned_by_digest(render: Callable[[str], Docs]) -> None:
    docs = render("production")
    assert len(images(docs)) >= 15
    assert not undigested(docs), "production images without a digest:\n" + "\n".join(undigested(docs))
    docs[0:0] = [
        {
            "kind": "Deployment",
            "metadata": {"name": "x"},
            "spec": {"template": {"spec": {"containers": [{"name": "x", "image": "cityhub/x:1.0"}]}}},
        }
    ]
    assert undigested(docs) == ["Deployment/x/x: cityhub/x:1.0"]


# ------------------------------------------------------------------ NATS Helm values
def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((NATS_VALUES / name).read_text())
    return doc


# Keys of chart nats 2.14.2's values.yaml that our files may set ("*": any key below).
CHART_KEYS: dict[str, Any] = {
    "config": {
        "cluster": {"enabled": BOOL, "replicas": INT},
        "jetstream": {
            "enabled": BOOL,
            "fileStore": {
                "enabled": BOOL,
                "dir": STR,
                "maxSize": STR,
                "pvc": {"enabled": BOOL, "size": STR, "storageClassName": STR},
            },
            "memoryStore": {"enabled": BOOL, "maxSize": STR},
        },
        "monitor": {"enabled": BOOL, "port": INT},
        "merge": {"*": object},
    },
    "container": {
        "image": {"repository": STR, "tag": STR, "digest": STR},
        "env": STR_MAP,
        "merge": {"*": object},
    },
    "reloader": {"enabled": BOOL, "image": {"repository": STR, "tag": STR, "digest": STR}, "merge": {"*": object}},
    "podTemplate": {"topologySpreadConstraints": {"*": object}, "merge": {"*": object}},
    "podDisruptionBudget": {"enabled": BOOL},
    "natsBox": {
        "enabled": BOOL,
        "container": {"image": {"repository": STR, "tag": STR, "digest": STR}, "merge": {"*": object}},
        "podTemplate": {"merge": {"*": object}},
    },
}


def nats_version_under_test() -> str:
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "nats-server"), "--version"], capture_output=True, text=True)
    match = re.search(r"v(\d+\.\d+\.\d+)", out.stdout + out.stderr)
    assert match, f"cannot read the nats-server version: {out.stdout}{out.stderr}"
    return match.group(1)


@pytest.mark.parametrize("name", sorted(p.name for p in NATS_VALUES.glob("values*.yaml")))
def test_nats_values_use_chart_keys(name: str) -> None:
    problems = shape_problems(load(name), CHART_KEYS, name)
    assert not problems, "\n".join(problems)


def test_nats_is_a_three_node_jetstream_cluster_on_the_tested_version() -> None:
    values = load("values.yaml")
    assert values["config"]["cluster"] == {"enabled": True, "replicas": 3}
    js = values["config"]["jetstream"]
    assert js["enabled"] and js["fileStore"]["enabled"] and js["fileStore"]["pvc"]["enabled"]
    assert values["container"]["image"]["tag"] == f"{nats_version_under_test()}-alpine"
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    assert compose["services"]["nats"]["image"] == f"nats:{nats_version_under_test()}-alpine"
    assert load("values-dev.yaml")["config"]["cluster"]["enabled"] is False


def test_nats_production_values_pin_every_image() -> None:
    values = load("values-production.yaml")
    digests = [
        values["container"]["image"]["digest"],
        values["reloader"]["image"]["digest"],
        values["natsBox"]["container"]["image"]["digest"],
    ]
    assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", d) for d in digests), digests
