"""Integrity checks for the demo city's catalog YAML (data/*.yaml).

The catalog service, the app and the Open311 API all trust these files, so
the tests enforce what they rely on: complete, real translations, unique
slugs and codes, valid Open311 form attributes, consistent cross-references
between services, departments, categories and centres, and coordinates
inside the city boundary.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

DATA_DIR = Path(__file__).resolve().parent.parent / "src" / "cityhub_catalog" / "data"
LANGS = ("en", "zh-Hant", "vi", "ja", "fa")
DATATYPES = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}
SERVICE_TYPES = {"realtime", "batch", "blackbox"}
CHANNELS = {"online", "in_person", "phone", "app", "mail"}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
CODE_RE = re.compile(r"^[A-Z]{2}-[A-Z0-9]+$")
AMOUNT_RE = re.compile(r"^\d+\.\d{2}$")
TIME_RE = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")


def _load(name: str) -> Any:
    with (DATA_DIR / name).open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


CITY: dict[str, Any] = _load("city.yaml")
DEPARTMENTS: list[dict[str, Any]] = _load("departments.yaml")["departments"]
CATEGORIES: list[dict[str, Any]] = _load("categories.yaml")["categories"]
SERVICES: list[dict[str, Any]] = _load("services.yaml")["services"]
CENTERS: list[dict[str, Any]] = _load("centers.yaml")["centers"]
SYNONYMS: dict[str, list[list[str]]] = _load("synonyms.yaml")["synonyms"]
SERVICE_BY_SLUG = {s["slug"]: s for s in SERVICES}
CENTER_BY_SLUG = {c["slug"]: c for c in CENTERS}


def _script_ok(lang: str, text: str) -> bool:
    """Cheap check that a translation is written in the language's script."""
    if lang in ("zh-Hant", "ja"):
        return any(unicodedata.name(ch, "").startswith(("CJK", "HIRAGANA", "KATAKANA")) for ch in text)
    if lang == "fa":
        return any("ARABIC" in unicodedata.name(ch, "") for ch in text)
    return True


def _assert_translated(value: Any, where: str, *, differ: bool = True) -> None:
    assert isinstance(value, dict), f"{where}: expected a language mapping"
    assert set(value) == set(LANGS), f"{where}: languages {sorted(value)}"
    for lang in LANGS:
        text = value[lang]
        assert isinstance(text, str) and text.strip(), f"{where}.{lang} is empty"
        assert _script_ok(lang, text), f"{where}.{lang} is not in the expected script: {text!r}"
        if differ and lang != "en":
            assert text != value["en"], f"{where}.{lang} is a copy of English"


def _assert_translated_lists(value: Any, where: str, *, allow_empty: bool) -> None:
    assert isinstance(value, dict) and set(value) == set(LANGS), f"{where}: languages {sorted(value or {})}"
    for lang in LANGS:
        items = value[lang]
        assert isinstance(items, list), f"{where}.{lang} must be a list"
        assert all(isinstance(i, str) and i.strip() for i in items), f"{where}.{lang} has blank items"
        if not allow_empty:
            assert items, f"{where}.{lang} is empty"


def _inside(point: tuple[float, float], polygon: list[list[float]]) -> bool:
    """Ray casting: count boundary crossings of a ray going east from the point."""
    lat, lon = point
    inside = False
    for (lat1, lon1), (lat2, lon2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (lat1 > lat) != (lat2 > lat):
            crossing_lon = lon1 + (lat - lat1) * (lon2 - lon1) / (lat2 - lat1)
            if lon < crossing_lon:
                inside = not inside
    return inside


# -- city -----------------------------------------------------------------------


def test_city() -> None:
    _assert_translated(CITY["name"], "city.name")
    assert CITY["timezone"] == "America/Los_Angeles"
    assert set(CITY["languages"]) == set(LANGS)
    boundary = CITY["boundary"]
    assert 6 <= len(boundary) <= 10
    centre = (CITY["centre"]["lat"], CITY["centre"]["lon"])
    assert _inside(centre, boundary)
    lats = [p[0] for p in boundary]
    lons = [p[1] for p in boundary]
    km_ns = (max(lats) - min(lats)) * 111.2
    km_ew = (max(lons) - min(lons)) * 111.2 * math.cos(math.radians(centre[0]))
    assert 18 <= km_ns <= 22 and 14 <= km_ew <= 18, (km_ns, km_ew)


def test_point_in_polygon_helper() -> None:
    square = [[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]]
    assert _inside((0.5, 0.5), square)
    assert not _inside((1.5, 0.5), square)
    assert not _inside((0.5, -0.1), square)


# -- departments and categories ---------------------------------------------------


def test_departments() -> None:
    assert len(DEPARTMENTS) >= 9
    slugs = [d["slug"] for d in DEPARTMENTS]
    assert len(set(slugs)) == len(slugs)
    for dept in DEPARTMENTS:
        assert SLUG_RE.match(dept["slug"])
        _assert_translated(dept["name"], f"{dept['slug']}.name")
        _assert_translated(dept["description"], f"{dept['slug']}.description")
        contact = dept["contact"]
        assert contact["phone"].startswith("+1-")
        assert contact["email"].endswith(".example")
        assert contact["website"].startswith("https://") and ".example" in contact["website"]


def test_categories() -> None:
    slugs = [c["slug"] for c in CATEGORIES]
    assert len(slugs) >= 9 and len(set(slugs)) == len(slugs)
    for cat in CATEGORIES:
        _assert_translated(cat["name"], f"category {cat['slug']}")


# -- services ---------------------------------------------------------------------


def test_service_counts_and_uniqueness() -> None:
    assert len(SERVICES) >= 32
    for key in ("slug", "service_code"):
        dupes = [v for v, n in Counter(s[key] for s in SERVICES).items() if n > 1]
        assert not dupes, f"duplicate {key}: {dupes}"
    assert len({s["department"] for s in SERVICES}) >= 9
    assert sum(s["takes_reports"] for s in SERVICES) >= 10
    assert sum(s["takes_requests"] for s in SERVICES) >= 5


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s["slug"])
def test_service(service: dict[str, Any]) -> None:
    slug = service["slug"]
    assert SLUG_RE.match(slug), slug
    assert CODE_RE.match(service["service_code"]), service["service_code"]
    assert service["department"] in {d["slug"] for d in DEPARTMENTS}
    assert service["category"] in {c["slug"] for c in CATEGORIES}
    assert service["type"] in SERVICE_TYPES
    assert isinstance(service["takes_reports"], bool) and isinstance(service["takes_requests"], bool)

    _assert_translated(service["name"], f"{slug}.name")
    _assert_translated(service["summary"], f"{slug}.summary")
    _assert_translated(service["eligibility"], f"{slug}.eligibility")
    _assert_translated_lists(service["keywords"], f"{slug}.keywords", allow_empty=False)
    _assert_translated_lists(service["steps"], f"{slug}.steps", allow_empty=False)
    _assert_translated_lists(service["documents"], f"{slug}.documents", allow_empty=True)
    for field in ("steps", "documents"):
        lengths = {lang: len(service[field][lang]) for lang in LANGS}
        assert len(set(lengths.values())) == 1, f"{slug}.{field} differs in length per language: {lengths}"

    for fee in service["fees"]:
        assert AMOUNT_RE.match(fee["amount"]), fee
        assert fee["currency"] == "USD"
        _assert_translated(fee["description"], f"{slug}.fees")

    assert service["channels"] and set(service["channels"]) <= CHANNELS
    assert len(set(service["centers"])) == len(service["centers"])
    if service["centers"]:
        assert "in_person" in service["channels"], f"{slug} has centres but no in_person channel"

    if service["takes_reports"]:
        radius = service.get("report_radius_m")
        assert isinstance(radius, int) and 10 <= radius <= 2000, f"{slug}.report_radius_m"
        assert "app" in service["channels"]


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s["slug"])
def test_service_form(service: dict[str, Any]) -> None:
    slug, form = service["slug"], service["form"]
    assert isinstance(form, list)
    if service["takes_reports"] or service["takes_requests"]:
        assert form, f"{slug} takes reports/requests but has no form"
    codes = [a["code"] for a in form]
    orders = [a["order"] for a in form]
    assert len(set(codes)) == len(codes), f"{slug}: duplicate attribute codes"
    assert len(set(orders)) == len(orders), f"{slug}: duplicate attribute order"
    for attr in form:
        where = f"{slug}.form.{attr['code']}"
        assert re.match(r"^[a-z][a-z0-9_]*$", attr["code"]), where
        assert attr["datatype"] in DATATYPES, where
        assert isinstance(attr["required"], bool) and isinstance(attr["variable"], bool), where
        assert isinstance(attr["order"], int), where
        _assert_translated(attr["description"], f"{where}.description", differ=False)
        if "datatype_description" in attr:
            _assert_translated(attr["datatype_description"], f"{where}.datatype_description", differ=False)
        if attr["datatype"].endswith("valuelist"):
            values = attr.get("values") or []
            assert len(values) >= 2, f"{where} needs values"
            keys = [str(v["key"]) for v in values]
            assert len(set(keys)) == len(keys), f"{where}: duplicate value keys"
            for value in values:
                _assert_translated(value["name"], f"{where}.{value['key']}", differ=False)
        else:
            assert not attr.get("values"), f"{where}: values only make sense for list types"


def test_list_attributes_are_used() -> None:
    with_lists = [s for s in SERVICES if any(a["datatype"].endswith("valuelist") for a in s["form"])]
    assert len(with_lists) >= 10
    assert any(a["datatype"] == "multivaluelist" for s in SERVICES for a in s["form"])


# -- centres ----------------------------------------------------------------------


def test_center_count_and_uniqueness() -> None:
    assert len(CENTERS) >= 12
    slugs = [c["slug"] for c in CENTERS]
    assert len(set(slugs)) == len(slugs)


@pytest.mark.parametrize("center", CENTERS, ids=lambda c: c["slug"])
def test_center(center: dict[str, Any]) -> None:
    slug = center["slug"]
    assert SLUG_RE.match(slug)
    _assert_translated(center["name"], f"{slug}.name")
    _assert_translated(center["address"], f"{slug}.address")
    assert _inside((center["lat"], center["lon"]), CITY["boundary"]), f"{slug} is outside the city"
    assert center["phone"].startswith("+1-")
    assert tuple(center["hours"]) == WEEKDAYS
    for day, ranges in center["hours"].items():
        for opens, closes in ranges:
            assert TIME_RE.match(opens) and TIME_RE.match(closes), (slug, day)
            assert opens < closes, (slug, day)
    assert 1 <= len(center["queues"]) <= 4
    queue_slugs = [q["slug"] for q in center["queues"]]
    assert len(set(queue_slugs)) == len(queue_slugs)
    for queue in center["queues"]:
        _assert_translated(queue["name"], f"{slug}.{queue['slug']}")
        assert queue["services"], f"{slug}.{queue['slug']} serves nothing"
        for service_slug in queue["services"]:
            assert service_slug in SERVICE_BY_SLUG, f"{slug}.{queue['slug']}: unknown service {service_slug}"
            assert slug in SERVICE_BY_SLUG[service_slug]["centers"], f"{service_slug} does not list centre {slug}"


def test_service_centres_have_a_queue() -> None:
    """The reverse of the queue check: a listed centre must actually serve it."""
    for service in SERVICES:
        for center_slug in service["centers"]:
            assert center_slug in CENTER_BY_SLUG, f"{service['slug']}: unknown centre {center_slug}"
            served = {s for q in CENTER_BY_SLUG[center_slug]["queues"] for s in q["services"]}
            assert service["slug"] in served, f"{center_slug} has no queue for {service['slug']}"


# -- synonyms ---------------------------------------------------------------------


def test_synonyms() -> None:
    assert set(SYNONYMS) == set(LANGS)
    assert sum(len(groups) for groups in SYNONYMS.values()) >= 25
    for lang, groups in SYNONYMS.items():
        assert len(groups) >= 5, lang
        for group in groups:
            assert len(group) >= 2 and all(isinstance(p, str) and p.strip() for p in group), (lang, group)
            assert len(set(group)) == len(group), (lang, group)
