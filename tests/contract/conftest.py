"""Rendered Kubernetes overlays for the deployment contract tests.

The overlays are rendered by `kubectl kustomize` (kubectl >= 1.27 embeds kustomize; every machine
kind of this project has it) or a standalone `kustomize build`. Without either the tests that need
a render are skipped locally and fail in CI (CI=true), so a green CI always rendered both overlays.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ROOT / "k8s" / "overlays"
OVERLAY_NAMES = sorted(p.name for p in OVERLAYS.iterdir() if (p / "kustomization.yaml").exists())

Docs = list[dict[str, Any]]


def _kustomize() -> list[str] | None:
    if tool := shutil.which("kustomize"):
        return [tool, "build"]
    if tool := shutil.which("kubectl"):
        return [tool, "kustomize"]
    return None


@cache
def _render(overlay: str) -> tuple[dict[str, Any], ...]:
    command = _kustomize()
    if command is None:
        if os.environ.get("CI"):
            pytest.fail("neither kubectl nor kustomize on PATH: the overlays cannot be rendered")
        pytest.skip("neither kubectl nor kustomize on PATH")
    result = subprocess.run([*command, str(OVERLAYS / overlay)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"k8s/overlays/{overlay} does not render:\n{result.stderr}"
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


@pytest.fixture(scope="session")
def render() -> Callable[[str], Docs]:
    """render(overlay) -> a fresh deep copy of the overlay's rendered documents (tests may edit it)."""

    def _fresh(overlay: str) -> Docs:
        return copy.deepcopy(list(_render(overlay)))

    return _fresh
