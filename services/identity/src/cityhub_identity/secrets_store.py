"""Server-side secrets (pseudonym and refresh-token derivation keys): from the environment, or
generated once and kept in identity's database so every replica derives the same values."""

from __future__ import annotations

import secrets

from cityhub_sdk.db import Database
from sqlalchemy.exc import IntegrityError

from cityhub_identity.models import ServerSecret


class SecretStore:
    def __init__(self, db: Database, overrides: dict[str, str | None] | None = None) -> None:
        self.db = db
        self._cache = {name: value for name, value in (overrides or {}).items() if value}

    async def get(self, name: str) -> bytes:
        if name not in self._cache:
            self._cache[name] = await self._load_or_create(name)
        return self._cache[name].encode()

    async def _load_or_create(self, name: str) -> str:
        async with self.db.session() as session:
            row = await session.get(ServerSecret, name)
            if row is not None:
                return row.value
        try:
            async with self.db.transaction() as session:
                session.add(ServerSecret(name=name, value=secrets.token_urlsafe(48)))
        except IntegrityError:
            pass  # another replica created it first; read theirs
        async with self.db.session() as session:
            row = await session.get(ServerSecret, name)
            assert row is not None
            return row.value
