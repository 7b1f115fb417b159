"""Spec fuzzing: schemathesis over the whole OpenAPI document, anonymous and signed in as a resident.

The platform runs in-process (real gRPC services, real NATS) and the gateway is served by uvicorn on
a free port; schemathesis runs as its own process against it (its HTTP client is synchronous and
must not block the event loop the services run on). A bounded number of examples per operation
keeps a run to a few minutes. Checks: no server error (5xx other than the documented 502/503/504
of an unreachable peer), every status code, content type, header and body as the spec says.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from .conftest import StartPlatform, resident

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# 4 per operation and role: the tightened request schemas (openapi_tighten) made generation ~5x
# slower, and at 12 this module alone took 13 min of the suite.
MAX_EXAMPLES = 4
SEED = 17
# Generous abuse limits: the fuzzer is one client on one address and must reach every handler.
FUZZING_LIMITS = {
    # Fuzzing checks answers, not speed: on a loaded machine a slow answer must not become a 504.
    "GRPC_TIMEOUT_S": 30,
    "AUTH_RATE_LIMIT_PER_MINUTE": 1_000_000,
    "AUTH_ACCOUNT_RATE_LIMIT_PER_MINUTE": 1_000_000,
    "AUTH_REFRESH_RATE_LIMIT_PER_MINUTE": 1_000_000,
}
QUOTAS = {"REPORT_QUOTA_PER_REPORTER": 1_000_000, "REPORT_QUOTA_PER_ADDRESS": 1_000_000}


async def schemathesis(base_url: str, report: Path, *extra: str) -> tuple[int, str]:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{base_url}/schema/openapi.json",
        "--url",
        base_url,
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--suppress-health-check",
        "all",
        "--no-shrink",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        *extra,
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    report.with_suffix(".log").write_text(text)
    return int(process.returncode or 0), text


def findings(output: str) -> str:
    """The failing operations and checks, without the reproduction noise."""
    keep = ("___", "- ST", "    Received", "    Documented", "[5", "Summary", "failures", "errors")
    return "\n".join(line for line in output.splitlines() if line.lstrip().startswith(keep) or "failed" in line)


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_schemathesis_finds_no_server_error_and_nothing_outside_the_spec(
    start_platform: StartPlatform, tmp_path: Path
) -> None:
    platform = await start_platform(incidents=QUOTAS, **FUZZING_LIMITS)
    base = await platform.serve()
    code, output = await schemathesis(base, tmp_path / "anonymous.xml")
    assert code == 0, findings(output)

    me = await resident(platform.client())
    signed_in = [
        "--header",
        f"Authorization: {me['Authorization']}",
        # the live stream never ends, and erasing the account would sign the fuzzer out
        "--exclude-operation-id",
        "streamEvents",
        "--exclude-operation-id",
        "deleteAccount",
    ]
    code, output = await schemathesis(base, tmp_path / "resident.xml", *signed_in)
    assert code == 0, findings(output)
