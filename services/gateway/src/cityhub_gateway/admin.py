"""The gateway's admin port: Prometheus text at /metrics (`METRICS_PORT`, off when unset).

Kept apart from the public port so that /metrics is never reachable through the load balancer.
"""

from __future__ import annotations

from cityhub_sdk.metrics import MetricsServer, serve_metrics
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AdminSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    metrics_port: int | None = Field(default=None, ge=0, le=65535, validation_alias="METRICS_PORT")
    metrics_host: str = Field(default="127.0.0.1", validation_alias="METRICS_HOST")


def start_admin(service_name: str, settings: AdminSettings | None = None) -> MetricsServer | None:
    settings = settings or AdminSettings()
    if settings.metrics_port is None:
        return None
    return serve_metrics(service_name, host=settings.metrics_host, port=settings.metrics_port)
