"""docs/benchmarks.md and docs/benchmarks.json from one bench run: medians, targets, ratios.

Everything here is computed from the run's figures, so a re-run refreshes every number; the only
fixed prose is how each figure is measured and what limits it when its target is missed.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.scenarios import Figure

# What bounds a figure when it misses its target: read with the profile printed beside it.
LIMITS = {
    "s1_services_rps": "the gateway (and catalog) rebuild, convert, encode and hash the whole ~56 KB list on "
    "every request; one Python process each, so CPU-bound long before the server's ceiling",
    "s2_incidents_rps": "each request is a gRPC call to incidents (one process) that runs the H3 search in "
    "SQL, plus DTO conversion and JSON encoding in the gateway: two single-threaded Python processes per request",
    "s2_incidents_p99_at_200": "queueing behind the same single-process gateway and incidents service",
    "s4_report_to_sse_p99": "a report crosses incidents (outbox relay) -> NATS -> notifications (consumer, "
    "transaction) -> outbox -> NATS -> gateway -> a gRPC read of the rendered notification",
    "s5_fanout_rate": "one transaction per event inserting every inbox row; the database write rate",
    "s6_queue_events_rate": "every batch goes gateway -> waittimes in one transaction per batch (a lock per centre)",
    "s6_event_to_gateway_p99": "the waittimes outbox relay and the gateway's projection",
    "s7_tracing_ratio": "span creation and OTLP export share the request's CPU in every process",
    "s8_make_run_healthy": "Python start-up and imports of every process, migrations and seeds before the "
    "services start, on a machine shared with other work",
}
# The service-level section (scripts/bench.py --service ...) is kept from the previous document.
SERVICE_LEVEL = "## Service level (in-process, no gateway)"
PROFILED = {"s1_services_rps": "GET /v1/services", "s2_incidents_rps": "GET /v1/incidents (1 km)"}


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def evaluate(figures: list[Figure]) -> list[dict[str, Any]]:
    ceilings = {f.key: median(f.runs) for f in figures if f.key.startswith("ceiling_")}
    out = []
    for figure in figures:
        value = median(figure.runs)
        row: dict[str, Any] = {**asdict(figure), "median": value}
        row["target"] = {"op": figure.target[0], "value": figure.target[1]} if figure.target else None
        if figure.target and value is not None:
            op, goal = figure.target
            row["meets"] = value >= goal if op == ">=" else value < goal
            row["share_of_target"] = value / goal if goal else None
        else:
            row["meets"] = None
        ceiling = ceilings.get(figure.ceiling or "")
        row["ratio_to_ceiling"] = value / ceiling if value is not None and ceiling else None
        if figure.key == "s1_services_rps":  # its target is a share of the ceiling
            row["target"] = {"op": ">=", "value": 0.5, "of": "ceiling_empty_route"}
            row["meets"] = row["ratio_to_ceiling"] is not None and row["ratio_to_ceiling"] >= 0.5
            row["share_of_target"] = row["ratio_to_ceiling"] / 0.5 if row["ratio_to_ceiling"] is not None else None
        out.append(row)
    return out


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit in ("ratio",):
        return f"{value:.2f}"
    if unit in ("ms", "s", "%"):
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def _target(row: dict[str, Any]) -> str:
    target = row["target"]
    if target is None:
        return "-"
    if target.get("of"):
        return f"≥ {target['value']:.0%} of the empty route"
    sign = "≥" if target["op"] == ">=" else "<"
    return f"{sign} {_num(target['value'], row['unit'])} {row['unit']}"


def _verdict(row: dict[str, Any]) -> str:
    if row["meets"] is None:
        return row["note"] or "-"
    if row["meets"]:
        return "meets"
    share = row.get("share_of_target")
    if row["target"]["op"] == "<" and share:
        return f"**misses**: {share:.1f}x the limit"
    return f"**misses**: {share:.0%} of the target" if share is not None else "**misses**"


def write(
    md_path: Path, json_path: Path, figures: list[Figure], meta: dict[str, Any], notes: list[str],
    profiles: dict[str, dict[str, list[tuple[str, float]]]],
) -> None:  # fmt: skip
    rows = evaluate(figures)
    json_path.write_text(json.dumps({**meta, "figures": rows, "notes": notes, "profiles": profiles}, indent=1) + "\n")
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {meta['finished']} ({'`--quick`, tiny data: not figures to quote' if meta['quick'] else 'full size'}). "
        "Re-run it to refresh every number here and in [benchmarks.json](benchmarks.json) (raw runs, machine, "
        "versions). Each figure is the median of its runs; each throughput is also given as a share of the ceiling "
        "measured in the same run.",
        "",
        f"Machine: {meta['machine']['cpu']}, {meta['machine']['cores']} cores, {meta['machine']['memory_gb']:.0f} GB; "
        f"load average {meta['machine']['load_before']} before and {meta['machine']['load_after']} after the run "
        "(the machine is shared: a high load lowers every figure, ceilings included). "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
        + ".",
        "",
        "How: `make bench` starts the platform with `scripts/run.py` (what `make run` runs) on free loopback ports "
        "in a fresh run directory, once on SQLite and once on PostgreSQL (127.0.0.1:5432, one database per service, "
        "when reachable), seeds the demo city, loads the reports straight into the incidents database in bulk and "
        "the residents (accounts with a home, and an area subscription on it) into identity and notifications, "
        "then drives everything through the gateway. Throughput: wrk 4.1 (`-t2 -c32`, closed loop). Latency at a "
        "fixed rate and the event scenarios: an open-loop aiohttp client (latency counted from each request's "
        "scheduled start). Profiles: py-spy sampling the gateway during the last wrk run. "
        "`make bench BENCH=--quick` is the smoke run on tiny data.",
        "",
        "## Figures",
        "",
        "| # | figure | db | median | runs | target | verdict | share of ceiling |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row["key"].startswith("ceiling_"):
            continue
        runs = ", ".join(_num(v, row["unit"]) for v in row["runs"]) or "-"
        ratio = (
            f"{row['ratio_to_ceiling']:.2f} of {row['ceiling'].removeprefix('ceiling_')}"
            if row["ratio_to_ceiling"]
            else "-"
        )
        lines.append(
            f"| {row['scenario']} | {row['title']} | {row['database']} | {_num(row['median'], row['unit'])} "
            f"{row['unit'] if row['median'] is not None else ''} | {runs} | {_target(row)} | {_verdict(row)} | {ratio} |"
        )
    lines += ["", "## Ceilings (same run, same machine)", "", "| ceiling | median | runs | how |", "|---|---|---|---|"]
    for row in rows:
        if row["key"].startswith("ceiling_"):
            runs = ", ".join(_num(v, row["unit"]) for v in row["runs"])
            lines.append(
                f"| {row['title']} | {_num(row['median'], row['unit'])} {row['unit']} | {runs} | {row['tool']} |"
            )
    missed = [r for r in rows if r["meets"] is False]
    if missed:
        lines += ["", "## Missed targets: by how much, and what limits them", ""]
        for row in missed:
            lines.append(
                f"- **{row['title']}** ({row['database']}): {_num(row['median'], row['unit'])} {row['unit']} against "
                f"{_target(row)} ({_verdict(row).removeprefix('**misses**: ')}). Limit: {LIMITS.get(row['key'], 'not analysed')}."
            )
            profile = profiles.get(f"{PROFILED.get(row['key'], '')} ({row['database']})")
            if profile:
                for kind, label in (("self", "on CPU"), ("ours", "in our code, inclusive")):
                    lines.append(
                        f"  Gateway profile (py-spy, share of samples {label}): "
                        + "; ".join(f"`{frame}` {share:.0%}" for frame, share in profile.get(kind, []))
                        + "."
                    )
    details = [
        f"- {row['title']} ({row['database']}): {row['note']}"
        for row in rows
        if row["note"] and row["meets"] is not None
    ]
    if notes or details:
        lines += ["", "## Notes", "", *details, *(f"- {note}" for note in notes)]
    kept = md_path.read_text().partition(SERVICE_LEVEL)[2] if md_path.exists() else ""
    lines += ["", SERVICE_LEVEL + kept.rstrip("\n") if kept else "", ""]
    md_path.write_text("\n".join(lines).rstrip("\n") + "\n")
