"""Catalog queries, kept in one place (dao_* functions take the caller's session)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from cityhub_sdk.tables import utcnow
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_catalog.models import (
    CatalogRevision,
    Category,
    City,
    CityService,
    Department,
    DepartmentRegistration,
    Queue,
    ServiceCenter,
)

# -- revision -------------------------------------------------------------------------


async def dao_get_revision(session: AsyncSession) -> int:
    row = await session.get(CatalogRevision, 1)
    return row.revision if row is not None else 0


async def dao_bump_revision(session: AsyncSession) -> int:
    """Move the revision on; every replica's cached snapshot is stale from this commit on."""
    row = await session.get(CatalogRevision, 1, with_for_update=True)
    if row is None:
        row = CatalogRevision(id=1, revision=0)
    row.revision += 1
    row.updated_at = utcnow()
    session.add(row)
    return row.revision


# -- departments, categories, services --------------------------------------------------


async def dao_list_departments(session: AsyncSession) -> Sequence[Department]:
    return (await session.exec(select(Department).order_by(col(Department.slug)))).all()


async def dao_upsert_department(session: AsyncSession, department: Department) -> None:
    await session.merge(department)


async def dao_list_categories(session: AsyncSession) -> Sequence[Category]:
    return (await session.exec(select(Category).order_by(col(Category.position), col(Category.slug)))).all()


async def dao_upsert_category(session: AsyncSession, category: Category) -> None:
    await session.merge(category)


async def dao_list_services(session: AsyncSession) -> Sequence[CityService]:
    query = select(CityService).order_by(col(CityService.position), col(CityService.slug))
    return (await session.exec(query)).all()


async def dao_get_service(session: AsyncSession, slug: str, *, for_update: bool = False) -> CityService | None:
    return await session.get(CityService, slug, with_for_update=for_update)


async def dao_save_service(session: AsyncSession, service: CityService) -> None:
    await session.merge(service)


# -- centres and queues -------------------------------------------------------------------


async def dao_list_centers(session: AsyncSession) -> Sequence[ServiceCenter]:
    return (await session.exec(select(ServiceCenter).order_by(col(ServiceCenter.slug)))).all()


async def dao_centers_in_cells(
    session: AsyncSession, cells: Collection[str], *, coarse: bool
) -> Sequence[ServiceCenter]:
    """Candidate centres whose H3 cell is one of `cells` (the index does the narrowing)."""
    column = col(ServiceCenter.h3_cell_coarse) if coarse else col(ServiceCenter.h3_cell)
    return (await session.exec(select(ServiceCenter).where(column.in_(list(cells))))).all()


async def dao_get_center(session: AsyncSession, slug: str) -> ServiceCenter | None:
    return await session.get(ServiceCenter, slug)


async def dao_upsert_center(session: AsyncSession, center: ServiceCenter) -> None:
    await session.merge(center)


async def dao_queues_of(session: AsyncSession, centers: Collection[str]) -> Sequence[Queue]:
    query = select(Queue).where(col(Queue.center).in_(list(centers))).order_by(col(Queue.center), col(Queue.position))
    return (await session.exec(query)).all()


async def dao_upsert_queue(session: AsyncSession, queue: Queue) -> None:
    await session.merge(queue)


# -- city ------------------------------------------------------------------------------------


async def dao_get_city(session: AsyncSession) -> City | None:
    return (await session.exec(select(City).limit(1))).first()


async def dao_upsert_city(session: AsyncSession, city: City) -> None:
    await session.merge(city)


# -- department registrations ------------------------------------------------------------------


async def dao_get_registration(session: AsyncSession, slug: str) -> DepartmentRegistration | None:
    return await session.get(DepartmentRegistration, slug)


async def dao_save_registration(session: AsyncSession, registration: DepartmentRegistration) -> None:
    session.add(registration)


async def dao_list_registrations(
    session: AsyncSession, *, department: str = "", offset: int = 0, limit: int | None = None
) -> Sequence[DepartmentRegistration]:
    query = select(DepartmentRegistration).order_by(col(DepartmentRegistration.slug)).offset(offset)
    if department:
        query = query.where(col(DepartmentRegistration.department) == department)
    if limit is not None:
        query = query.limit(limit)
    return (await session.exec(query)).all()


async def dao_set_health(session: AsyncSession, slug: str, address: str, health: str, checked_at: datetime) -> None:
    """Record a health check, unless the registration moved to another address meanwhile."""
    row = await session.get(DepartmentRegistration, slug)
    if row is not None and row.address == address:
        row.health = health
        row.checked_at = checked_at
        session.add(row)
