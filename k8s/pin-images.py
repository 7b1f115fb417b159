"""Pin every production image to the digest the registry has for it (run by the release pipeline).

    uv run python k8s/pin-images.py REGISTRY VERSION [--resolve "crane digest"]

For the CityHub images it resolves REGISTRY/cityhub/<name>:VERSION (just pushed by the pipeline),
for the third-party images <name>:<newTag> as written in k8s/overlays/production/kustomization.yaml,
and for NATS the repository:tag pairs of k8s/nats/values.yaml; then it writes each digest into the
overlay's `images:` and into k8s/nats/values-production.yaml, keeping the files' comments. The
resolver is any command that prints `sha256:<64 hex>` for an image reference (`crane digest`,
`skopeo inspect --format '{{.Digest}}' docker://...` wrapped in a script). Commit the result with
the release, or apply straight from the pipeline's checkout.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
NATS_IMAGES = {  # values.yaml path of each image -> its `digest:` line in values-production.yaml
    ("container",): "container",
    ("reloader",): "reloader",
    ("natsBox", "container"): "natsBox",
}


def resolve(command: str, ref: str) -> str:
    out = subprocess.run([*shlex.split(command), ref], capture_output=True, text=True, check=False)
    match = DIGEST.fullmatch(out.stdout.strip())
    if out.returncode != 0 or not match:
        sys.exit(f"pin-images: cannot resolve {ref}: {out.stderr.strip() or out.stdout.strip()}")
    return match.group(0)


def pin_overlay(path: Path, registry: str, version: str, command: str) -> None:
    text = path.read_text()
    images = yaml.safe_load(text)["images"]
    for image in images:
        name = image["name"]
        if name.startswith("cityhub/"):
            new_name = f"{registry}/{name}"
            ref = f"{new_name}:{version}"
        else:
            new_name, ref = None, f"{name}:{image['newTag']}"
        digest = resolve(command, ref)
        block = re.compile(rf"(  - name: {re.escape(name)}\n(?:    .*\n)*?)    digest: \S+\n")
        text, count = block.subn(lambda m, d=digest: f"{m.group(1)}    digest: {d}\n", text)
        if count != 1:
            sys.exit(f"pin-images: no `digest:` line for {name} in {path}")
        if new_name:
            text = re.sub(rf"(  - name: {re.escape(name)}\n    newName: )\S+", rf"\g<1>{new_name}", text)
        print(f"{ref} -> {digest}")
    path.write_text(text)


def pin_nats(values: Path, production: Path, command: str) -> None:
    doc = yaml.safe_load(values.read_text())
    text = production.read_text()
    for keys, section in NATS_IMAGES.items():
        node = doc
        for key in keys:
            node = node[key]
        ref = f"{node['image']['repository']}:{node['image']['tag']}"
        digest = resolve(command, ref)
        block = re.compile(rf"(^{section}:\n(?:  .*\n)*?\s+)digest: \S+", re.MULTILINE)
        text, count = block.subn(lambda m, d=digest: f"{m.group(1)}digest: {d}", text)
        if count != 1:
            sys.exit(f"pin-images: no digest for {section} in {production}")
        print(f"{ref} -> {digest}")
    production.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("registry", help="e.g. registry.example.org")
    parser.add_argument("version", help="the tag the pipeline pushed, e.g. 0.2.0")
    parser.add_argument("--resolve", default="crane digest", help="command printing an image's digest")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent, help="the k8s/ folder")
    args = parser.parse_args()
    pin_overlay(args.root / "overlays" / "production" / "kustomization.yaml", args.registry, args.version, args.resolve)
    pin_nats(args.root / "nats" / "values.yaml", args.root / "nats" / "values-production.yaml", args.resolve)


if __name__ == "__main__":
    main()
