"""A department's API key files Open311 requests for its own department's services only (issue 17:
the roads key filed a food-safety `HL-FOOD` request)."""

from __future__ import annotations

from .conftest import CENTRE, StartPlatform


def food_complaint(api_key: str) -> dict[str, str]:
    return {
        "service_code": "HL-FOOD",
        "lat": str(CENTRE[0]),
        "long": str(CENTRE[1]),
        "description": "Cockroaches in the kitchen",
        "api_key": api_key,
        "attribute[business_name]": "Lakeview Diner",
        "attribute[issues][]": "pests",
    }


async def test_the_roads_key_cannot_file_a_food_safety_request(start_platform: StartPlatform) -> None:
    platform = await start_platform()
    client = platform.client()
    roads, health = await platform.api_key("roads"), await platform.api_key("health")

    refused = await client.post("/open311/v2/requests.json", data=food_complaint(roads))
    assert refused.status_code == 403, refused.text
    assert refused.json()[0]["code"] == 403 and "HL-FOOD" in refused.json()[0]["description"]
    # nothing was filed: the request list for the service is empty
    assert (await client.get("/open311/v2/requests.json", params={"service_code": "HL-FOOD"})).json() == []

    filed = await client.post("/open311/v2/requests.json", data=food_complaint(health))
    assert filed.status_code == 201, filed.text
    # and the roads key still files for roads
    pothole = {
        "service_code": "RD-POTHOLE",
        "lat": str(CENTRE[0]),
        "long": str(CENTRE[1]),
        "description": "Deep hole",
        "api_key": roads,
        "attribute[size]": "small",
    }
    assert (await client.post("/open311/v2/requests.json", data=pothole)).status_code == 201
