"""The production NetworkPolicies allow exactly the flows of README.md's "Network flows" table.

A small evaluator of the NetworkPolicy semantics we use (podSelector/namespaceSelector matchLabels,
ports, default deny by selection) runs every (source, destination, port) among the rendered pods,
the NATS and CloudNativePG pods (labels as the Helm chart and the operator set them), kube-dns and
the pods of the ingress controller, Prometheus and operator namespaces; a connection is open when
the source's egress and the destination's ingress both allow it. The set of open connections must
equal the table, row for row: a missing flow breaks the platform, an extra one is a hole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
NAMESPACE = "cityhub"
INTERNET = "internet"

Docs = list[dict[str, Any]]
Flow = tuple[str, str, str]  # (from, to, "port/proto")


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: dict[str, str] = field(hash=False)


def pods(docs: Docs) -> list[Pod]:
    out = [
        Pod(d["metadata"]["name"], NAMESPACE, d["spec"]["template"]["metadata"]["labels"])
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
    ]
    nats = {"app.kubernetes.io/name": "nats", "app.kubernetes.io/instance": "nats"}
    out.append(Pod("nats", NAMESPACE, {**nats, "app.kubernetes.io/component": "nats"}))
    out.append(Pod("nats-box", NAMESPACE, {**nats, "app.kubernetes.io/component": "nats-box"}))
    for d in docs:
        if d["kind"] == "Cluster":
            name = d["metadata"]["name"]
            out.append(Pod(name, NAMESPACE, {"cnpg.io/cluster": name, "cnpg.io/podRole": "instance"}))
    out.append(Pod("kube-dns", "kube-system", {"k8s-app": "kube-dns"}))
    for namespace in ("ingress-nginx", "monitoring", "cnpg-system"):
        out.append(Pod(namespace, namespace, {}))
    return out


def matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    assert not (selector or {}).get("matchExpressions"), "the evaluator knows matchLabels only"
    return all(labels.get(k) == v for k, v in (selector or {}).get("matchLabels", {}).items())


def peer_matches(peer: dict[str, Any], pod: Pod, policy_namespace: str) -> bool:
    assert "ipBlock" not in peer, "the evaluator does not know ipBlock"
    if "namespaceSelector" in peer:
        in_namespace = matches(peer["namespaceSelector"], {"kubernetes.io/metadata.name": pod.namespace})
    else:
        in_namespace = pod.namespace == policy_namespace
    return in_namespace and ("podSelector" not in peer or matches(peer["podSelector"], pod.labels))


def port_matches(rule: dict[str, Any], port: str) -> bool:
    number, proto = port.split("/")
    ports = rule.get("ports")
    return not ports or any(str(p["port"]) == number and p.get("protocol", "TCP").lower() == proto for p in ports)


def allowed(policies: Docs, direction: str, pod: Pod, peer: Pod | None, port: str) -> bool:
    """Does `pod` allow this flow in `direction` ("ingress"/"egress")? peer None = outside the cluster."""
    if pod.namespace != NAMESPACE:
        return True  # not ours to restrict
    kind = direction.capitalize()
    selecting = [
        p for p in policies if matches(p["spec"]["podSelector"], pod.labels) and kind in p["spec"]["policyTypes"]
    ]
    if not selecting:
        return True
    key = "from" if direction == "ingress" else "to"
    for policy in selecting:
        for rule in policy["spec"].get(direction, []):
            if not port_matches(rule, port):
                continue
            peers = rule.get(key)
            if not peers or (peer is not None and any(peer_matches(x, peer, NAMESPACE) for x in peers)):
                return True
    return False


def open_flows(docs: Docs) -> set[Flow]:
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    ports = {
        f"{p['port']}/{p.get('protocol', 'TCP').lower()}"
        for pol in policies
        for direction in ("ingress", "egress")
        for rule in pol["spec"].get(direction, [])
        for p in rule.get("ports", [])
    }
    everyone = pods(docs)
    flows: set[Flow] = set()
    for src in everyone:
        for port in ports:
            anywhere = src.namespace == NAMESPACE and allowed(policies, "egress", src, None, port)
            if anywhere:
                flows.add((src.name, INTERNET, port))
            for dst in everyone:
                if src.namespace != NAMESPACE and dst.namespace != NAMESPACE:
                    continue
                if anywhere and dst.namespace != NAMESPACE:
                    continue  # already the "internet" row: open to any address outside
                if allowed(policies, "egress", src, dst, port) and allowed(policies, "ingress", dst, src, port):
                    flows.add((src.name, dst.name, port))
    return flows


def readme_flows(docs: Docs) -> set[Flow]:
    text = README.read_text()
    section = text.split("### Network flows", 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|") and not line.startswith("|---")][1:]
    databases = [d["metadata"]["name"].removesuffix("-db") for d in docs if d["kind"] == "Cluster"]
    names = {p.name for p in pods(docs)} | {INTERNET}
    ours = sorted(p.name for p in pods(docs) if p.namespace == NAMESPACE)
    flows: set[Flow] = set()
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        sources, targets = (re.findall(r"[\w<>*-]+", c.replace("`", "")) for c in cells[:2])
        port_cell = re.findall(r"\d+(?:/\w+)?", cells[2])
        for svc in databases if any("<svc>" in c for c in cells[:2]) else [""]:
            for src in expand(sources, svc, names, ours):
                for dst in expand(targets, svc, names, ours):
                    for port in port_cell:
                        flows.add((src, dst, port if "/" in port else f"{port}/tcp"))
    return flows


def expand(items: list[str], svc: str, names: set[str], ours: list[str]) -> Iterator[str]:
    for item in items:
        name = item.replace("<svc>", svc)
        if name == "*":
            yield from ours
            continue
        assert name in names, f"README flow table names {name!r}, which is no pod of the render"
        yield name


def pretty(flows: set[Flow]) -> str:
    return "\n".join(f"  {a} -> {b} :{p}" for a, b, p in sorted(flows))


def test_policies_allow_exactly_the_readme_flows(render: Callable[[str], Docs]) -> None:
    docs = render("production")
    expected, actual = readme_flows(docs), open_flows(docs)
    assert not expected - actual, "flows of the README table that the policies block:\n" + pretty(expected - actual)
    assert not actual - expected, "flows the policies open that the README table lacks:\n" + pretty(actual - expected)


def test_default_deny_selects_every_pod(render: Callable[[str], Docs]) -> None:
    deny = next(
        d for d in render("production") if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "default-deny"
    )
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []}


def test_the_evaluator_sees_a_hole(render: Callable[[str], Docs]) -> None:
    docs = render("production")
    assert ("catalog", "incidents", "50054/tcp") not in open_flows(docs)
    incidents = next(d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "incidents")
    incidents["spec"]["ingress"][0]["from"].append(
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "catalog"}}}
    )
    catalog = next(d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "catalog")
    catalog["spec"]["egress"].append({"ports": [{"protocol": "TCP", "port": 50054}]})
    assert ("catalog", "incidents", "50054/tcp") in open_flows(docs)
