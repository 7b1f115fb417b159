"""DELETE /v1/me erases the resident everywhere: identity, incidents and notifications each drop
or anonymise what they held, confirm, and identity marks the erasure complete.

The check reads every table of every service database for the account id and the email, so a
table added later that keeps personal data fails this test until its service erases it too.
"""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa
from cityhub_gateway.config import GatewaySettings
from cityhub_sdk.app import RunningService
from cityhub_sdk.testing import eventually

from .conftest import SignIn

HOME = (47.6062, -122.3321)
# Tables whose job is to remember that an erasure happened (they hold the random id, nothing personal).
ERASURE_BOOKKEEPING = {"erasure_requests", "erasure_confirmations"}
PLATFORM_TABLES = {"outbox_events", "processed_events", "dead_letters", "alembic_version"}


@pytest.fixture
def gateway_settings(full_gateway_settings: GatewaySettings) -> GatewaySettings:
    """This module crosses notifications: every service and NATS."""
    return full_gateway_settings


async def mentions(service: RunningService, needles: list[str]) -> list[str]:  # type: ignore[type-arg]
    """Every `table.column` of the service's database that still holds one of `needles`."""
    found: list[str] = []
    async with service.db.engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
        for table in tables:
            if table in PLATFORM_TABLES or table in ERASURE_BOOKKEEPING:
                continue
            columns = await connection.run_sync(lambda sync, t=table: sa.inspect(sync).get_columns(t))
            for column in columns:
                if not isinstance(column["type"], sa.String | sa.Text | sa.JSON):
                    continue
                text_value = sa.cast(sa.column(column["name"]), sa.Text)
                for needle in needles:
                    query = sa.select(sa.func.count()).select_from(sa.table(table)).where(text_value.contains(needle))
                    if (await connection.execute(query)).scalar_one():
                        found.append(f"{table}.{column['name']}")
    return found


async def test_deleting_an_account_erases_it_in_every_service(
    api: httpx.AsyncClient,
    sign_in: SignIn,
    identity_service: RunningService,  # type: ignore[type-arg]
    incidents_service: RunningService,  # type: ignore[type-arg]
    notifications_service: RunningService,  # type: ignore[type-arg]
) -> None:
    email = "erase.me@example.org"
    headers = await sign_in(email, display_name="Erin Erasure", phone="+1 206 555 0199")
    account_id = (await api.get("/v1/me", headers=headers)).json()["account_id"]

    place = await api.post(
        "/v1/me/places", json={"label": "home", "latitude": HOME[0], "longitude": HOME[1]}, headers=headers
    )
    assert place.status_code == 201, place.text
    subscribed = await api.post(
        "/v1/me/subscriptions", json={"place_id": place.json()["id"], "radius_m": 500}, headers=headers
    )
    assert subscribed.status_code == 201, subscribed.text
    form = {
        "category": "pothole",
        "description": "Hole by the bus stop",
        "lat": str(HOME[0]),
        "lon": str(HOME[1]),
        "attributes": '{"size": "small"}',
    }
    # multipart/form-data, every field a part, as the OpenAPI document describes the report
    reported = await api.post("/v1/incidents", files={k: (None, v) for k, v in form.items()}, headers=headers)
    assert reported.status_code == 201, reported.text

    # Before: every service holds something of hers (the reporter auto-follows her report).
    await eventually(lambda: _holds(notifications_service, account_id), timeout_s=15)
    assert await mentions(incidents_service, [account_id])
    assert await mentions(identity_service, [email])

    deleted = await api.delete("/v1/me", headers=headers)
    assert deleted.status_code == 202, deleted.text
    assert (await api.get("/v1/me", headers=headers)).status_code == 401

    async def erased_everywhere() -> bool:
        leftovers = (
            # Identity keeps a tombstone (the random account id, revoked sessions) so that old
            # tokens stay refused; nothing personal stays with it.
            await mentions(identity_service, [email, "Erin Erasure", "555 0199"])
            + await mentions(incidents_service, [account_id])
            + await mentions(notifications_service, [account_id])
        )
        return not leftovers

    await eventually(erased_everywhere, timeout_s=30)
    # The report itself stays on the map, without its reporter.
    public = await api.get(f"/v1/incidents/{reported.json()['id']}")
    assert public.status_code == 200

    async def confirmed() -> bool:
        async with identity_service.db.engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.text("SELECT completed_at FROM erasure_requests WHERE account_id = :id"), {"id": account_id}
                )
            ).first()
        return row is not None and row[0] is not None

    await eventually(confirmed, timeout_s=30)


async def _holds(service: RunningService, account_id: str) -> bool:  # type: ignore[type-arg]
    return bool(await mentions(service, [account_id]))
