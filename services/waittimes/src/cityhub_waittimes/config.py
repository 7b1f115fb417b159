"""Waittimes settings."""

from __future__ import annotations

from cityhub_sdk.settings import ServiceSettings
from pydantic import Field


class WaitTimesSettings(ServiceSettings):
    service_name: str = Field(default="waittimes", validation_alias="OTEL_SERVICE_NAME")
    grpc_port: int = Field(default=50053, validation_alias="GRPC_PORT")
    catalog_addr: str = Field(validation_alias="CATALOG_ADDR")
    # Centres, queues, hours and the city's time zone are re-read from the catalog this often.
    catalog_cache_ttl_s: float = Field(default=300.0, gt=0, validation_alias="CATALOG_CACHE_TTL_S")
    # Events may arrive this much out of order; older ones than the newest less this are refused.
    reorder_window_s: float = Field(default=300.0, ge=0, validation_alias="REORDER_WINDOW_S")
    # Events stamped further ahead than this are refused (a kiosk with a wrong clock).
    max_clock_skew_s: float = Field(default=300.0, ge=0, validation_alias="MAX_CLOCK_SKEW_S")
    # One reminder when at most this many people are ahead of a remote check-in.
    checkin_remind_ahead: int = Field(default=3, ge=0, validation_alias="CHECKIN_REMIND_AHEAD")
    # A called check-in that is neither served nor marked within this is a no-show: its place is freed.
    checkin_grace_s: float = Field(default=600.0, gt=0, validation_alias="CHECKIN_GRACE_S")
    sweep_interval_s: float = Field(default=15.0, gt=0, validation_alias="CHECKIN_SWEEP_INTERVAL_S")
    # Busy hours are averaged over this many past days.
    history_days: int = Field(default=28, ge=1, validation_alias="HISTORY_DAYS")
    # Raw events are kept this long (the checkpoint and the hourly figures keep the rest).
    event_retention_days: int = Field(default=3, ge=1, validation_alias="EVENT_RETENTION_DAYS")
