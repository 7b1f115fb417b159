"""`python -m cityhub_gateway`: serve the public HTTP API with uvicorn."""

from __future__ import annotations

import signal

import uvicorn
from cityhub_sdk.logging import configure_logging
from cityhub_sdk.telemetry import configure_telemetry

from cityhub_gateway.admin import start_admin
from cityhub_gateway.app import create_app
from cityhub_gateway.config import GatewaySettings


def main() -> None:
    settings = GatewaySettings()  # type: ignore[call-arg]  # filled from the environment
    configure_logging(settings.service_name, settings.log_level, json=settings.log_json)
    configure_telemetry(settings.service_name)
    admin = start_admin(settings.service_name)
    app = create_app(settings)
    # Litestar's default logging set-up replaces the root handler: ours again, so every line
    # (the access log included) is the platform's JSON with trace ids.
    configure_logging(settings.service_name, settings.log_level, json=settings.log_json)
    # uvicorn drains on SIGTERM, then restores the handler it found and raises the signal again: with
    # the default one the process would die there, before the lines below and the exit handlers that
    # flush telemetry. Ignored, the drained process ends normally (status 0).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,  # cityhub_gateway.access_log writes one line per request, without query strings
        timeout_graceful_shutdown=10,
        proxy_headers=False,  # X-Forwarded-For is read by cityhub_gateway.client_address, from TRUSTED_PROXIES only
    )
    if admin is not None:
        admin.close()


if __name__ == "__main__":
    main()
