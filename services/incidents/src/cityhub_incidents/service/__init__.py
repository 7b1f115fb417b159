"""Incidents use cases, one module per job; `IncidentsServices` is what the servicer is given.

filing (create, duplicates, idempotent retries) · reading (get, nearby, lists, photos) ·
lifecycle (staff: status, notes, merges) · following · alerts · accounts (export, erasure).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cityhub_sdk.db import Database

from cityhub_incidents.categories import CategoryDirectory
from cityhub_incidents.photos import PhotoStorage
from cityhub_incidents.quota import ReportQuota
from cityhub_incidents.service.accounts import AccountsService
from cityhub_incidents.service.alerts import AlertsService
from cityhub_incidents.service.filing import FilingService
from cityhub_incidents.service.following import FollowingService
from cityhub_incidents.service.lifecycle import LifecycleService
from cityhub_incidents.service.reading import ReadingService


@dataclass(frozen=True)
class IncidentsServices:
    filing: FilingService
    reading: ReadingService
    lifecycle: LifecycleService
    following: FollowingService
    alerts: AlertsService
    accounts: AccountsService

    @classmethod
    def build(
        cls,
        db: Database,
        categories: CategoryDirectory,
        photos: PhotoStorage,
        *,
        duplicate_window: timedelta = timedelta(days=30),
        max_radius_m: float = 5000.0,
        quota: ReportQuota | None = None,
    ) -> IncidentsServices:
        return cls(
            filing=FilingService(db, categories, photos, duplicate_window=duplicate_window, quota=quota),
            reading=ReadingService(db, photos, max_radius_m=max_radius_m),
            lifecycle=LifecycleService(db),
            following=FollowingService(db),
            alerts=AlertsService(db),
            accounts=AccountsService(db),
        )


__all__ = ["IncidentsServices"]
