"""An in-memory copy of the (small) catalog plus its search index, rebuilt when the revision moves.

Every read asks the database for the one-row revision counter; when another transaction (a seed,
an edit, another replica) has moved it, the snapshot and its SearchIndex are rebuilt once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cityhub_sdk.db import Database
from cityhub_sdk.logging import get_logger

from cityhub_catalog.models import Category, CityService, Department
from cityhub_catalog.repository import dao_get_revision, dao_list_categories, dao_list_departments, dao_list_services
from cityhub_catalog.search import SearchIndex, Synonyms, load_search_documents

log = get_logger(__name__)


@dataclass(frozen=True)
class CatalogSnapshot:
    revision: int
    departments: Sequence[Department]
    categories: Mapping[str, Category]
    services: Sequence[CityService]
    index: SearchIndex
    by_slug: Mapping[str, CityService] = field(default_factory=dict)
    by_code: Mapping[str, CityService] = field(default_factory=dict)


def load_synonyms(path: Path) -> Synonyms:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return Synonyms.from_groups(data.get("synonyms", {}))


def build_index(
    services: Sequence[CityService],
    departments: Sequence[Department],
    categories: Sequence[Category],
    synonyms: Synonyms,
) -> SearchIndex:
    documents = load_search_documents(
        [s.model_dump() for s in services],
        [d.model_dump() for d in departments],
        [c.model_dump() for c in categories],
    )
    return SearchIndex(documents, synonyms)


class SnapshotCache:
    """Hands out the current snapshot; at most one rebuild runs at a time."""

    def __init__(self, db: Database, synonyms: Synonyms) -> None:
        self.db = db
        self.synonyms = synonyms
        self._snapshot: CatalogSnapshot | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> CatalogSnapshot:
        async with self.db.session() as session:
            revision = await dao_get_revision(session)
        current = self._snapshot
        if current is not None and current.revision == revision:
            return current
        async with self._lock:
            if self._snapshot is not None and self._snapshot.revision == revision:
                return self._snapshot
            self._snapshot = await self._load()
            log.info("catalog.snapshot_built", revision=self._snapshot.revision, services=len(self._snapshot.services))
            return self._snapshot

    async def _load(self) -> CatalogSnapshot:
        async with self.db.session() as session:
            revision = await dao_get_revision(session)
            departments = list(await dao_list_departments(session))
            categories = list(await dao_list_categories(session))
            services = list(await dao_list_services(session))
        index = await asyncio.to_thread(build_index, services, departments, categories, self.synonyms)
        return CatalogSnapshot(
            revision=revision,
            departments=departments,
            categories={c.slug: c for c in categories},
            services=services,
            index=index,
            by_slug={s.slug: s for s in services},
            by_code={s.service_code: s for s in services},
        )
