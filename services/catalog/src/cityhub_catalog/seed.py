"""Load the demo city's catalog from the YAML files shipped in `data/` (idempotent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from cityhub_sdk.db import Database

from cityhub_catalog.models import Department
from cityhub_catalog.repository import dao_upsert_department

DATA_DIR = Path(__file__).parent / "data"


def load_yaml(name: str) -> Any:
    return yaml.safe_load((DATA_DIR / name).read_text(encoding="utf-8"))


async def seed_catalog(db: Database) -> int:
    """Upsert every department (and, later, services and centres); returns how many rows."""
    departments = load_yaml("departments.yaml")["departments"]
    async with db.transaction() as session:
        for item in departments:
            contact = item.get("contact", {})
            await dao_upsert_department(
                session,
                Department(
                    slug=item["slug"],
                    name=item["name"],
                    description=item.get("description", {}),
                    phone=contact.get("phone", ""),
                    email=contact.get("email", ""),
                    website=contact.get("website", ""),
                ),
            )
    return len(departments)
