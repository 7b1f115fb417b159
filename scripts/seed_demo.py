#!/usr/bin/env python3
"""Demo people for `make run`: 3 residents (each with a home in Lakeview), one staff member per
catalog department, 1 operator and one API key per department. Idempotent: re-running reuses
what exists (API keys are kept in the output file and re-created only when no longer valid).

Residents are created through the public gateway API; staff, operators and API keys through
identity's internal gRPC API (IDENTITY_ADDR + INTERNAL_API_TOKEN), since nobody can self-create them.
Credentials go only to the output file (mode 600), never to the terminal.

`make run` imports it and calls `seed_file` in its own process once the gateway is healthy; the
accounts are created concurrently (each costs identity one Argon2 hash), and a resident already
in the previous file signs in first, so a second start hashes once per resident, not twice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import Any

import grpc
import httpx
from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub_sdk.auth import internal_metadata

RESIDENTS = [
    ("resident1@demo.lakeview.example", "Lakeview demo resident 1", (47.6101, -122.3344)),
    ("resident2@demo.lakeview.example", "Lakeview demo resident 2", (47.6205, -122.3493)),
    ("resident3@demo.lakeview.example", "Lakeview demo resident 3", (47.5990, -122.3170)),
]
RESIDENT_PASSWORD = "lakeview-demo-resident"
STAFF_PASSWORD = "lakeview-demo-staff"
OPERATOR_PASSWORD = "lakeview-demo-operator"
OPERATOR_EMAIL = "operator@demo.lakeview.example"


async def _resident(
    api: httpx.AsyncClient, email: str, name: str, home: tuple[float, float], known: bool
) -> dict[str, str]:
    credentials = {"email": email, "password": RESIDENT_PASSWORD}
    token = await api.post("/v1/auth/token", json=credentials) if known else None
    if token is None or token.status_code != 200:  # new, or gone since the previous file was written
        await api.post(
            "/v1/auth/register",
            json={**credentials, "display_name": name, "preferred_language": "en"},
        )
        token = await api.post("/v1/auth/token", json=credentials)
    token.raise_for_status()
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    places = (await api.get("/v1/me/places", headers=headers)).json()["items"]
    if not any(place["label"] == "home" for place in places):
        created = await api.post(
            "/v1/me/places", headers=headers, json={"label": "home", "latitude": home[0], "longitude": home[1]}
        )
        created.raise_for_status()
    await api.post("/v1/auth/logout", json={"refresh_token": token.json()["refresh_token"]})
    return credentials


async def _account(
    stub: identity_pb2_grpc.IdentityServiceStub,
    metadata: Any,
    email: str,
    password: str,
    role: identity_pb2.Role.ValueType,
    department: str = "",
) -> None:
    await stub.CreateAccount(
        identity_pb2.CreateAccountRequest(
            email=email, password=password, role=role, department=department, display_name=email.split("@")[0]
        ),
        metadata=metadata,
    )


async def _api_key(
    stub: identity_pb2_grpc.IdentityServiceStub, metadata: Any, department: str, previous: str | None
) -> str:
    if previous:
        check = await stub.VerifyApiKey(identity_pb2.VerifyApiKeyRequest(key=previous), metadata=metadata)
        if check.valid and check.department == department:
            return previous
    created = await stub.CreateApiKey(
        identity_pb2.CreateApiKeyRequest(department=department, label="demo"), metadata=metadata
    )
    return str(created.key)


async def seed(gateway: str, previous: dict[str, Any], *, identity_addr: str, internal_token: str) -> dict[str, Any]:
    if not internal_token or not identity_addr:
        raise SystemExit("seed_demo: IDENTITY_ADDR and INTERNAL_API_TOKEN must be set")
    previous_keys = {item["department"]: item["key"] for item in previous.get("api_keys", [])}
    known = {item["email"] for item in previous.get("residents", [])}
    metadata = internal_metadata(internal_token)
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as api:
        departments = [d["slug"] for d in (await api.get("/v1/departments")).json()["items"]]
        residents = await asyncio.gather(
            *(_resident(api, email, name, home, email in known) for email, name, home in RESIDENTS)
        )
    async with grpc.aio.insecure_channel(identity_addr) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        staff = [
            {"department": slug, "email": f"staff.{slug}@demo.lakeview.example", "password": STAFF_PASSWORD}
            for slug in departments
        ]
        await asyncio.gather(
            *(
                _account(stub, metadata, s["email"], STAFF_PASSWORD, identity_pb2.ROLE_STAFF, s["department"])
                for s in staff
            ),
            _account(stub, metadata, OPERATOR_EMAIL, OPERATOR_PASSWORD, identity_pb2.ROLE_OPERATOR),
        )
        created = await asyncio.gather(
            *(_api_key(stub, metadata, slug, previous_keys.get(slug)) for slug in departments)
        )
        keys = [{"department": slug, "key": key} for slug, key in zip(departments, created, strict=True)]
    document = {
        "residents": list(residents),
        "staff": staff,
        "operators": [{"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD}],
        "api_keys": keys,
    }
    return document


def write_private(output: Path, document: dict[str, Any]) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(document, handle, indent=2)
    output.chmod(0o600)


def seed_file(gateway: str, output: Path, *, identity_addr: str, internal_token: str) -> dict[str, Any]:
    """Seeds the demo people, reusing what `output` holds, and writes them to `output` (mode 600)."""
    previous = json.loads(output.read_text()) if output.exists() else {}
    document = asyncio.run(seed(gateway, previous, identity_addr=identity_addr, internal_token=internal_token))
    write_private(output, document)
    return document


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--output", required=True, type=Path)
    args = parser.parse_args()
    output: Path = args.output
    document = seed_file(
        args.gateway,
        output,
        identity_addr=os.environ.get("IDENTITY_ADDR", ""),
        internal_token=os.environ.get("INTERNAL_API_TOKEN", ""),
    )
    counts = {name: len(items) for name, items in document.items()}
    print(f"seed_demo: {counts} -> {output}")


if __name__ == "__main__":
    main()
