"""The gateway behind the Ingress (issue 17): which proxies it trusts and which URL it calls its own.

In every rendered overlay the gateway must trust X-Forwarded-For from the ingress controller's pod
network only (`TRUSTED_PROXIES`: valid, non-public CIDRs, never "everyone"), else every resident
shares the ingress's per-address limits, or anyone can claim any address. Its `PUBLIC_BASE_URL`
must be the Ingress host (https where the Ingress terminates TLS), since public URLs are never
taken from the Host header. test_settings_contract.py already demands both are set (they are
marked `production` in GatewaySettings); this checks their values.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

OVERLAYS = Path(__file__).resolve().parents[2] / "k8s" / "overlays"
OVERLAY_NAMES = sorted(p.name for p in OVERLAYS.iterdir() if (p / "kustomization.yaml").exists())
Docs = list[dict[str, Any]]


def gateway_env(docs: Docs) -> dict[str, str]:
    deployment = next(d for d in docs if d.get("kind") == "Deployment" and d["metadata"]["name"] == "gateway")
    container = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "gateway")
    return {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}


def gateway_ingress(docs: Docs) -> dict[str, Any]:
    ingresses = [d for d in docs if d.get("kind") == "Ingress" and d["metadata"]["name"] == "gateway"]
    assert len(ingresses) == 1, "one Ingress `gateway` per overlay"
    return ingresses[0]


def problems(docs: Docs) -> list[str]:
    env = gateway_env(docs)
    found = []
    proxies = [p.strip() for p in env.get("TRUSTED_PROXIES", "").split(",") if p.strip()]
    if not proxies:
        found.append("TRUSTED_PROXIES is empty: behind the Ingress every client would share its address")
    for proxy in proxies:
        try:
            network = ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            found.append(f"TRUSTED_PROXIES: {proxy!r} is not a CIDR")
            continue
        if network.prefixlen < 8 or not network.is_private:
            found.append(f"TRUSTED_PROXIES: {proxy} is not a cluster network (anyone could forge X-Forwarded-For)")
    ingress = gateway_ingress(docs)
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    tls_hosts = {h for t in ingress["spec"].get("tls", []) for h in t.get("hosts", [])}
    url = urlsplit(env.get("PUBLIC_BASE_URL", ""))
    if url.hostname not in hosts:
        found.append(f"PUBLIC_BASE_URL host {url.hostname!r} is not the Ingress host {sorted(hosts)}")
    elif url.scheme != ("https" if url.hostname in tls_hosts else "http"):
        found.append(f"PUBLIC_BASE_URL scheme {url.scheme!r} does not match the Ingress TLS")
    return found


@pytest.mark.parametrize("overlay", OVERLAY_NAMES)
def test_gateway_trusts_the_ingress_network_and_knows_its_public_url(
    overlay: str, render: Callable[[str], Docs]
) -> None:
    assert problems(render(overlay)) == []


def test_production_serves_https_from_its_ingress_host(render: Callable[[str], Docs]) -> None:
    assert urlsplit(gateway_env(render("production"))["PUBLIC_BASE_URL"]).scheme == "https"


def test_the_check_fails_for_a_wrong_host_or_a_trust_everyone_proxy(render: Callable[[str], Docs]) -> None:
    docs = render("production")
    deployment = next(d for d in docs if d.get("kind") == "Deployment" and d["metadata"]["name"] == "gateway")
    for item in deployment["spec"]["template"]["spec"]["containers"][0]["env"]:
        if item["name"] == "TRUSTED_PROXIES":
            item["value"] = "0.0.0.0/0"
        if item["name"] == "PUBLIC_BASE_URL":
            item["value"] = "https://gateway.cityhub.svc"
    assert problems(docs) == [
        "TRUSTED_PROXIES: 0.0.0.0/0 is not a cluster network (anyone could forge X-Forwarded-For)",
        "PUBLIC_BASE_URL host 'gateway.cityhub.svc' is not the Ingress host ['api.cityhub.example']",
    ]
