"""A real CityHub service in a process of its own whose outbox relay SIGKILLs it at an exact point.

    python crashing_service.py cityhub_catalog.app --at before-publish|after-publish

The service is the one the module's `DEFINITION` describes, with settings from the environment
(DATABASE_URL, NATS_URL, GRPC_PORT, ...), started by the SDK runtime as `serve` starts it. The first
time its relay publishes an event the process kills itself with SIGKILL (no clean-up runs):
`before-publish` after the use case committed but before the event reaches NATS, `after-publish`
once JetStream acknowledged it but before the relay marks the row sent. Prints `READY <address>`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal

from cityhub_sdk.app import running
from cityhub_sdk.events import Event
from nats.js.api import PubAck


async def main(args: argparse.Namespace) -> None:
    definition = importlib.import_module(args.module).DEFINITION
    async with running(definition, definition.settings_type()) as service:
        publish = service.bus.publish

        async def publish_then_crash(event: Event) -> PubAck:
            if args.at == "before-publish":
                os.kill(os.getpid(), signal.SIGKILL)
            ack = await publish(event)
            os.kill(os.getpid(), signal.SIGKILL)
            return ack

        service.bus.publish = publish_then_crash  # type: ignore[method-assign]
        print(f"READY {service.address}", flush=True)
        await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("module")
    parser.add_argument("--at", choices=["before-publish", "after-publish"], required=True)
    asyncio.run(main(parser.parse_args()))
