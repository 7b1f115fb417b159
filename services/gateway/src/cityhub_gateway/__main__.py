"""`python -m cityhub_gateway`: serve the public HTTP API with uvicorn."""

from __future__ import annotations

import uvicorn
from cityhub_sdk.logging import configure_logging
from cityhub_sdk.telemetry import configure_telemetry

from cityhub_gateway.app import create_app
from cityhub_gateway.config import GatewaySettings


def main() -> None:
    settings = GatewaySettings()  # type: ignore[call-arg]  # filled from the environment
    configure_logging(settings.service_name, settings.log_level, json=settings.log_json)
    configure_telemetry(settings.service_name)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
