"""Moving the catalog revision, always with its event.

Readers key their caches on the revision an answer was read at (the catalog's own answers, the
gateway's encoded ones); `cityhub.catalog.revision.changed`, committed in the same transaction,
tells every one of them (other replicas included) that older answers are stale.
"""

from __future__ import annotations

from cityhub.catalog.v1 import events_pb2
from cityhub_sdk.outbox import add_event
from cityhub_sdk.subjects import CATALOG_REVISION_CHANGED
from cityhub_sdk.tables import utcnow
from cityhub_sdk.timestamps import to_timestamp
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_catalog.repository import dao_bump_revision


async def bump_revision(session: AsyncSession) -> int:
    """The next revision, and its event staged in the caller's transaction."""
    revision = await dao_bump_revision(session)
    changed = events_pb2.RevisionChanged(revision=revision, changed_at=to_timestamp(utcnow()))
    add_event(session, CATALOG_REVISION_CHANGED, changed, source="catalog")
    return revision
