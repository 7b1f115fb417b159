"""Catalog use cases; they own their transactions."""

from __future__ import annotations

from collections.abc import Sequence

from cityhub_sdk.db import Database

from cityhub_catalog.models import Department
from cityhub_catalog.repository import dao_list_departments


class CatalogService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list_departments(self) -> Sequence[Department]:
        async with self.db.session() as session:
            return await dao_list_departments(session)
