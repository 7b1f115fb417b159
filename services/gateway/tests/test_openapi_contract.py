"""The OpenAPI document is the contract a mobile developer generates a client from: this meta-test
fails on any operation whose body or 2xx answer is untyped, whose errors are undocumented, whose
operationId is not a short verb-noun, or whose numeric parameters are typed as strings."""

from __future__ import annotations

import re
from typing import Any

import pytest
from cityhub_gateway.app import create_app
from cityhub_gateway.config import GatewaySettings
from cityhub_gateway.policy import POLICY, PUBLIC, policy_key

OPERATION_ID = re.compile(r"^[a-z]+(?:[A-Z][a-z0-9]*)+$|^[a-z]+$")
BINARY_OR_TEXT = ("image/", "text/", "application/octet-stream", "application/xml")
NUMERIC_PARAMETERS = {"lat", "lon", "radius_m", "page_size", "long"}
METHODS = ("get", "put", "post", "delete", "patch")


def _offline_settings() -> GatewaySettings:
    peers = {
        str(field.validation_alias): "127.0.0.1:1"
        for field in GatewaySettings.model_fields.values()
        if str(field.validation_alias).endswith("_ADDR")
    }
    return GatewaySettings(**peers)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    document: dict[str, Any] = create_app(_offline_settings()).openapi_schema.to_schema()
    return document


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _typed(spec: dict[str, Any], media_type: str, schema: dict[str, Any] | None) -> bool:
    """A schema a generator can turn into a class: a $ref, typed properties, items or a oneOf."""
    if schema is None:
        return False
    if media_type.startswith(BINARY_OR_TEXT):
        return bool(schema)
    resolved = _resolve(spec, schema)
    if resolved.get("type") == "array":
        return _typed(spec, media_type, resolved.get("items"))
    if "oneOf" in resolved or "anyOf" in resolved:
        return all(_typed(spec, media_type, option) for option in resolved.get("oneOf", resolved.get("anyOf", [])))
    return bool(resolved.get("properties")) or resolved.get("type") in ("string", "integer", "number", "boolean")


def test_operation_ids_are_short_unique_verb_nouns(spec: dict[str, Any]) -> None:
    ids = [operation.get("operationId", "") for _, _, operation in _operations(spec)]
    bad = [op_id for op_id in ids if not OPERATION_ID.match(op_id) or len(op_id) > 40]
    assert not bad, f"operationIds must be lowerCamel verbNoun like createIncident: {bad}"
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def test_every_request_body_is_typed(spec: dict[str, Any]) -> None:
    untyped = [
        f"{method.upper()} {path} ({media_type})"
        for method, path, operation in _operations(spec)
        for media_type, content in (operation.get("requestBody", {}).get("content") or {}).items()
        if not _typed(spec, media_type, content.get("schema"))
    ]
    assert not untyped, f"untyped request bodies: {untyped}"


def test_every_route_that_reads_a_body_declares_it(spec: dict[str, Any]) -> None:
    bodyless = [
        f"{method.upper()} {path}"
        for method, path, operation in _operations(spec)
        if method in ("post", "put", "patch") and "requestBody" not in operation and not _takes_no_body(path)
    ]
    assert not bodyless, f"write operations without a documented request body: {bodyless}"


def _takes_no_body(path: str) -> bool:
    """Actions whose URL says everything (follow, mark read, logout with a cookie-less body...)."""
    return path.endswith(("/follow", "/read", "/read-all", "/check-ins/{check_in_id}/cancel"))


def test_every_2xx_answer_is_typed(spec: dict[str, Any]) -> None:
    untyped = []
    for method, path, operation in _operations(spec):
        successes = {code: answer for code, answer in operation["responses"].items() if code.startswith("2")}
        assert successes, f"{method.upper()} {path} documents no 2xx answer"
        for code, answer in successes.items():
            if code == "204":
                continue
            content = answer.get("content") or {}
            if not content or not all(_typed(spec, media, body.get("schema")) for media, body in content.items()):
                untyped.append(f"{method.upper()} {path} {code}")
    assert not untyped, f"untyped 2xx answers: {untyped}"


def test_every_operation_documents_its_errors(spec: dict[str, Any]) -> None:
    missing = []
    for method, path, operation in _operations(spec):
        codes = set(operation["responses"])
        expected = {"500"} if path == "/health" else {"500", "503"}
        if operation.get("parameters") or operation.get("requestBody"):
            expected.add("422")
        if operation.get("requestBody"):
            expected |= {"400", "413"}
        roles = POLICY.get(policy_key(method, path), frozenset())
        if PUBLIC not in roles:
            expected |= {"401", "403"}
        if not expected <= codes:
            missing.append(f"{method.upper()} {path}: {sorted(expected - codes)}")
        for code, answer in operation["responses"].items():
            if code[0] in "45":
                media_types = set(answer.get("content") or {})
                assert media_types & {"application/problem+json", "application/json"}, f"{path} {code} has no body"
    assert not missing, f"undocumented errors: {missing}"


def test_numeric_query_parameters_are_numbers(spec: dict[str, Any]) -> None:
    wrong = [
        f"{method.upper()} {path} {parameter['name']}"
        for method, path, operation in _operations(spec)
        for parameter in operation.get("parameters", [])
        if parameter["name"] in NUMERIC_PARAMETERS and not _is_number(_resolve(spec, parameter.get("schema", {})))
    ]
    assert not wrong, f"numeric parameters typed as something else: {wrong}"


def _is_number(schema: dict[str, Any]) -> bool:
    if schema.get("type") in ("number", "integer"):
        return True
    return any(_is_number(option) for option in schema.get("oneOf", []) + schema.get("anyOf", []))


def test_security_schemes_follow_the_policy_table(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["apiKeyAuth"]["in"] == "header"
    for method, path, operation in _operations(spec):
        roles = POLICY[policy_key(method, path)]
        if PUBLIC in roles:
            continue
        names = {name for requirement in operation.get("security", []) for name in requirement}
        assert names, f"{method.upper()} {path} needs credentials but documents no security"
