"""Load the demo city's catalog from the YAML files shipped in `data/` (idempotent upsert).

Everything is written in one transaction. A service whose content hash differs from the stored
one (or that is new) is saved and announced on `cityhub.catalog.service.updated` through the
outbox; seeding unchanged data writes no such event. The revision moves on every seed (departments,
centres and the city carry no version), announced on `cityhub.catalog.revision.changed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cityhub_sdk.db import Database
from cityhub_sdk.outbox import add_event
from cityhub_sdk.subjects import CATALOG_SERVICE_UPDATED

from cityhub_catalog.content import (
    category_from_record,
    center_from_record,
    city_from_record,
    department_from_record,
    service_from_record,
    service_updated_event,
)
from cityhub_catalog.repository import (
    dao_get_service,
    dao_save_service,
    dao_upsert_category,
    dao_upsert_center,
    dao_upsert_city,
    dao_upsert_department,
    dao_upsert_queue,
)
from cityhub_catalog.revision import bump_revision

DATA_DIR = Path(__file__).parent / "data"


# libyaml's safe loader when PyYAML has it: ~8x faster on the 180 KB services.yaml, which every
# `make run` start seeds before the catalog opens its port.
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(name: str, data_dir: Path = DATA_DIR) -> Any:
    return yaml.load((data_dir / name).read_text(encoding="utf-8"), Loader=_SAFE_LOADER)


@dataclass(frozen=True)
class SeedResult:
    departments: int
    services: int
    centers: int
    changed_services: list[str]


async def seed_catalog(db: Database, data_dir: Path = DATA_DIR) -> SeedResult:
    """Upsert the city, departments, categories, services, centres and queues."""
    city = load_yaml("city.yaml", data_dir)
    departments = load_yaml("departments.yaml", data_dir)["departments"]
    categories = load_yaml("categories.yaml", data_dir)["categories"]
    services = load_yaml("services.yaml", data_dir)["services"]
    centers = load_yaml("centers.yaml", data_dir)["centers"]
    changed: list[str] = []
    async with db.transaction() as session:
        await dao_upsert_city(session, city_from_record(city))
        for item in departments:
            await dao_upsert_department(session, department_from_record(item))
        for position, item in enumerate(categories):
            await dao_upsert_category(session, category_from_record(item, position))
        for item in centers:
            center, queues = center_from_record(item)
            await dao_upsert_center(session, center)
            for queue in queues:
                await dao_upsert_queue(session, queue)
        for position, item in enumerate(services):
            row = service_from_record(item, position)
            stored = await dao_get_service(session, row.slug)
            if stored is not None and stored.version == row.version:
                if stored.position != position:
                    stored.position = position
                    session.add(stored)
                continue
            await dao_save_service(session, row)
            add_event(session, CATALOG_SERVICE_UPDATED, service_updated_event(row), source="catalog")
            changed.append(row.slug)
        # Departments, centres and the city carry no version: every seed moves the revision so
        # running replicas re-read the catalog (cheap for a catalog of this size).
        await bump_revision(session)
    return SeedResult(len(departments), len(services), len(centers), changed)
