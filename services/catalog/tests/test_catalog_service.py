"""The catalog over real gRPC: listing, translations, search wiring, lookups, paging, proximity."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from cityhub.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from cityhub_sdk.geo import distance_m

Stub = catalog_pb2_grpc.CatalogServiceStub
LANGS = ("zh-Hant", "vi", "ja", "fa")
TESTS_DIR = Path(__file__).resolve().parent
DATA_DIR = TESTS_DIR.parent / "src" / "cityhub_catalog" / "data"
CENTRE = (47.6062, -122.3321)


async def _all_services(stub: Stub, lang: str = "en", **filters: Any) -> list[catalog_pb2.Service]:
    services: list[catalog_pb2.Service] = []
    token = ""
    while True:
        page = await stub.ListServices(
            catalog_pb2.ListServicesRequest(lang=lang, page_size=10, page_token=token, **filters)
        )
        services.extend(page.services)
        token = page.next_page_token
        if not token:
            return services


async def test_lists_30_services_from_8_departments_in_every_language(stub: Stub) -> None:
    english = await _all_services(stub)
    assert len(english) >= 30
    assert len({s.department for s in english}) >= 8
    departments = await stub.ListDepartments(catalog_pb2.ListDepartmentsRequest())
    assert {s.department for s in english} <= {d.slug for d in departments.departments}
    for lang in LANGS:
        translated = await _all_services(stub, lang)
        assert [s.slug for s in translated] == [s.slug for s in english]
        for en, tr in zip(english, translated, strict=True):
            assert tr.lang == lang and tr.name and tr.name != en.name, (lang, tr.slug)
            assert tr.rtl == (lang == "fa")


async def test_service_has_every_field(stub: Stub) -> None:
    service = (await stub.GetService(catalog_pb2.GetServiceRequest(slug="pothole", lang="vi"))).service
    assert service.service_code == "RD-POTHOLE" and service.department == "roads"
    assert service.name == "Ổ gà trên đường" and service.category == "streets" and service.category_name
    assert service.summary and service.eligibility and service.keywords and service.steps
    assert service.takes_reports and service.report_radius_m == 100 and service.type == "realtime"
    assert [a.code for a in service.form] == ["size", "position", "details"]
    size = service.form[0]
    assert size.datatype == "singlevaluelist" and size.required and [v.key for v in size.values][:1] == ["small"]
    assert size.description == "Ổ gà lớn cỡ nào?"
    assert len(service.version) == 16
    by_code = (await stub.GetService(catalog_pb2.GetServiceRequest(service_code="RD-POTHOLE"))).service
    assert by_code.slug == "pothole" and by_code.lang == "en"

    with_fees = [s for s in await _all_services(stub) if s.fees and s.documents and s.center_ids]
    assert with_fees, "some services have fees, documents and centres"
    assert all(f.amount and f.currency == "USD" for s in with_fees for f in s.fees)


async def test_english_fallback_per_field(stub: Stub) -> None:
    service = (await stub.GetService(catalog_pb2.GetServiceRequest(slug="pothole", lang="de"))).service
    assert service.lang == "en" and service.name == "Pothole"


async def test_unknown_service_is_not_found(stub: Stub) -> None:
    for request in (
        catalog_pb2.GetServiceRequest(slug="no-such-thing"),
        catalog_pb2.GetServiceRequest(service_code="XX-NOPE"),
        catalog_pb2.GetServiceRequest(),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.GetService(request)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.GetServiceCenter(catalog_pb2.GetServiceCenterRequest(id="nowhere"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_filters_and_paging(stub: Stub) -> None:
    waste = await _all_services(stub, category="waste")
    assert waste and all(s.category == "waste" for s in waste)
    health = await _all_services(stub, department="health")
    assert health and all(s.department == "health" for s in health)
    first = await stub.ListServices(catalog_pb2.ListServicesRequest(page_size=5))
    assert len(first.services) == 5 and first.next_page_token and first.total_size >= 30
    huge = await stub.ListServices(catalog_pb2.ListServicesRequest(page_size=1000))
    assert len(huge.services) == min(100, huge.total_size)
    for bad in (catalog_pb2.ListServicesRequest(page_token="%%%"), catalog_pb2.ListServicesRequest(page_size=-1)):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.ListServices(bad)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    departments = await stub.ListDepartments(catalog_pb2.ListDepartmentsRequest(page_size=3))
    assert len(departments.departments) == 3 and departments.next_page_token and departments.total_size >= 9


async def test_search_is_wired_in(stub: Stub) -> None:
    hits = await stub.ListServices(catalog_pb2.ListServicesRequest(query="potholes on my street", lang="en"))
    assert hits.services[0].slug == "pothole"
    vi = await stub.ListServices(catalog_pb2.ListServicesRequest(query="o ga", lang="vi"))
    assert vi.services[0].slug == "pothole" and vi.services[0].name == "Ổ gà trên đường"
    filtered = await stub.ListServices(catalog_pb2.ListServicesRequest(query="garbage", category="payments", lang="en"))
    assert all(s.category == "payments" for s in filtered.services)
    nothing = await stub.ListServices(catalog_pb2.ListServicesRequest(query="xyzzyqwv", lang="en"))
    assert list(nothing.services) == [] and nothing.total_size == 0
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ListServices(catalog_pb2.ListServicesRequest(query="x" * 501))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_relevance_set_through_grpc(stub: Stub) -> None:
    """The shipped relevance set, run through the real service: the figure the README quotes."""
    queries = yaml.safe_load((TESTS_DIR / "relevance.yaml").read_text(encoding="utf-8"))["queries"]
    hits = 0
    for item in queries:
        page = await stub.ListServices(catalog_pb2.ListServicesRequest(query=item["q"], lang=item["lang"], page_size=3))
        hits += item["expected"] in [s.slug for s in page.services]
    share = hits / len(queries)
    print(f"\ncatalog search relevance via gRPC: {hits}/{len(queries)} queries top-3 = {share:.1%}")
    assert len(queries) >= 40 and share >= 0.9


async def test_centers_with_hours_queues_and_coordinates(stub: Stub) -> None:
    centers = (await stub.ListServiceCenters(catalog_pb2.ListServiceCentersRequest(lang="ja", page_size=100))).centers
    assert len(centers) >= 10
    for center in centers:
        assert center.name and center.address and center.lang == "ja"
        assert 47.5 < center.lat < 47.7 and -122.5 < center.lon < -122.2
        assert [h.day for h in center.hours] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        assert center.queues and all(q.services and q.name for q in center.queues)
    one = (await stub.GetServiceCenter(catalog_pb2.GetServiceCenterRequest(id="city-hall", lang="fa"))).center
    assert one.rtl and one.name == "شهرداری لیک‌ویو" and "08:30-17:00" in one.hours[0].ranges
    offering = await stub.ListServiceCenters(catalog_pb2.ListServiceCentersRequest(service="library-card"))
    assert offering.centers and all(any("library-card" in q.services for q in c.queues) for c in offering.centers)


async def test_proximity_matches_brute_force(stub: Stub) -> None:
    everything = (await stub.ListServiceCenters(catalog_pb2.ListServiceCentersRequest(page_size=100))).centers
    rng = random.Random(7)
    for _ in range(25):
        lat = CENTRE[0] + rng.uniform(-0.15, 0.15)
        lon = CENTRE[1] + rng.uniform(-0.2, 0.2)
        radius = rng.choice([300.0, 1200.0, 3000.0, 5000.0, 8000.0, 20000.0, 50000.0])
        page = await stub.ListServiceCenters(
            catalog_pb2.ListServiceCentersRequest(near=True, lat=lat, lon=lon, radius_m=radius, page_size=100)
        )
        expected = sorted((d, c.id) for c in everything if (d := distance_m(lat, lon, c.lat, c.lon)) <= radius)
        assert [c.id for c in page.centers] == [i for _, i in expected], (lat, lon, radius)
        assert all(math.isclose(c.distance_m, d, abs_tol=0.1) for c, (d, _) in zip(page.centers, expected, strict=True))


async def test_proximity_rejects_bad_circles(stub: Stub) -> None:
    bad = (
        (91.0, 0.0, 100.0),
        (-90.5, 0.0, 100.0),
        (0.0, 180.5, 100.0),
        (math.nan, 0.0, 100.0),
        (0.0, math.inf, 100.0),
        (47.6, -122.3, 0.0),
        (47.6, -122.3, -5.0),
        (47.6, -122.3, 50_000.1),
        (47.6, -122.3, math.nan),
    )
    for lat, lon, radius in bad:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.ListServiceCenters(
                catalog_pb2.ListServiceCentersRequest(near=True, lat=lat, lon=lon, radius_m=radius)
            )
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (lat, lon, radius)


async def test_city(stub: Stub) -> None:
    city = (await stub.GetCity(catalog_pb2.GetCityRequest(lang="zh-Hant"))).city
    assert city.name == "湖景市" and city.timezone == "America/Los_Angeles" and len(city.boundary) == 8


async def test_city_facts_come_from_city_yaml(stub: Stub) -> None:
    """Contact, emergency number, website and Open311 jurisdiction are catalog data, not code."""
    record = yaml.safe_load((DATA_DIR / "city.yaml").read_text(encoding="utf-8"))
    city = (await stub.GetCity(catalog_pb2.GetCityRequest())).city
    assert (city.contact_phone, city.contact_email, city.website) == (
        record["contact"]["phone"],
        record["contact"]["email"],
        record["contact"]["website"],
    )
    assert (city.emergency_phone, city.jurisdiction_id) == (record["emergency_phone"], record["jurisdiction_id"])
    assert city.timezone == record["timezone"] and city.contact_phone and city.jurisdiction_id


async def test_use_case_errors_reach_the_client_through_the_sdk_interceptor(stub: Stub) -> None:
    """The servicer catches nothing: the SDK maps the use case's error to its status and text."""
    import cityhub_catalog.server as server
    from cityhub_catalog.service import NotFound
    from cityhub_sdk.errors import ServiceError

    assert issubclass(NotFound, ServiceError)
    assert not hasattr(server, "_status")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.GetService(catalog_pb2.GetServiceRequest(slug="no-such-service"))
    assert (info.value.code(), info.value.details()) == (grpc.StatusCode.NOT_FOUND, "no such service")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ListDepartments(catalog_pb2.ListDepartmentsRequest(page_token="not-a-token"))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
