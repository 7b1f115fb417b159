"""k8s/pin-images.py writes a digest for every production image, and the overlay still renders.

The registry is stood in for by a resolver command that prints a digest derived from the image
reference (what `crane digest` would answer), so each image gets its own, checkable digest.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
RESOLVER = "import hashlib,sys;print('sha256:'+hashlib.sha256(sys.argv[1].encode()).hexdigest())"


def expected(ref: str) -> str:
    return "sha256:" + hashlib.sha256(ref.encode()).hexdigest()


def test_pin_images_writes_every_digest(tmp_path: Path, render: Callable[[str], list[dict[str, Any]]]) -> None:
    render("production")  # skips/fails like the other render tests when no kustomize is available
    k8s = tmp_path / "k8s"
    shutil.copytree(ROOT / "k8s", k8s)
    resolver = f'{sys.executable} -c "{RESOLVER}"'
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "k8s" / "pin-images.py"),
            "reg.example",
            "1.2.3",
            "--resolve",
            resolver,
            "--root",
            str(k8s),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr

    kustomize = shutil.which("kustomize")
    command = [kustomize, "build"] if kustomize else [str(shutil.which("kubectl")), "kustomize"]
    rendered = subprocess.run(
        [*command, str(k8s / "overlays" / "production")], capture_output=True, text=True, check=True
    )
    images = set()
    for doc in yaml.safe_load_all(rendered.stdout):
        pod = (doc or {}).get("spec", {}).get("template", {}).get("spec", {})
        images |= {c["image"] for c in [*pod.get("initContainers", []), *pod.get("containers", [])]}
        if doc and doc["kind"] == "Cluster":
            images.add(doc["spec"]["imageName"])
    assert f"reg.example/cityhub/gateway@{expected('reg.example/cityhub/gateway:1.2.3')}" in images
    assert f"jaegertracing/all-in-one:1.62.0@{expected('jaegertracing/all-in-one:1.62.0')}" in images
    pg = "ghcr.io/cloudnative-pg/postgresql:16.10-system-trixie"
    assert f"{pg}@{expected(pg)}" in images
    assert not [i for i in images if i.endswith("0" * 64)], "a placeholder digest survived"

    values = yaml.safe_load((k8s / "nats" / "values-production.yaml").read_text())
    nats = yaml.safe_load((k8s / "nats" / "values.yaml").read_text())
    ref = f"nats:{nats['container']['image']['tag']}"
    assert values["container"]["image"]["digest"] == expected(ref)
    assert values["natsBox"]["container"]["image"]["digest"] == expected("natsio/nats-box:0.19.7")


def test_pin_images_refuses_a_bad_answer(tmp_path: Path) -> None:
    k8s = tmp_path / "k8s"
    shutil.copytree(ROOT / "k8s", k8s)
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "k8s" / "pin-images.py"),
            "reg",
            "1",
            "--resolve",
            "echo latest",
            "--root",
            str(k8s),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "cannot resolve" in result.stderr
    before = (ROOT / "k8s" / "overlays" / "production" / "kustomization.yaml").read_text()
    assert (k8s / "overlays" / "production" / "kustomization.yaml").read_text() == before
