"""Make the generated schemas say what the handlers enforce, so that valid-by-the-spec means accepted.

Found by schemathesis' `positive_data_acceptance` (tests/security/test_spec_fuzzing.py):
* Litestar writes the bounds of an optional value (`str | None` with `min_length=8`) next to its
  `oneOf`, where JSON Schema applies them to nothing; they are moved into the non-null branch.
* a msgspec tuple (`tuple[float, float]`) becomes `prefixItems` without a length, yet msgspec
  refuses any other length: `minItems`/`maxItems` are added.
* Structs with `forbid_unknown_fields=True` refuse unknown fields: `additionalProperties: false`.
* A query or header parameter cannot be null (absent is `required: false`), so an optional one's
  `oneOf [X, null]` becomes X (a fuzzer sent the header `Idempotency-Key: null`).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from typing import Any

import msgspec
from litestar.openapi.spec import OpenAPI, OpenAPIType, Schema

_BOUNDS = {
    OpenAPIType.STRING: ("min_length", "max_length", "pattern"),
    OpenAPIType.INTEGER: ("minimum", "maximum", "exclusive_minimum", "exclusive_maximum"),
    OpenAPIType.NUMBER: ("minimum", "maximum", "exclusive_minimum", "exclusive_maximum"),
    OpenAPIType.ARRAY: ("min_items", "max_items"),
}


def _types(schema: Schema) -> set[Any]:
    kind = schema.type
    return set(kind) if isinstance(kind, (list, tuple)) else {kind}


def _children(schema: Schema) -> Iterator[Any]:
    for group in (schema.one_of, schema.any_of, schema.all_of, schema.prefix_items):
        yield from group or ()
    yield from (schema.properties or {}).values()
    yield schema.items
    yield schema.additional_properties


def _tighten(schema: Any) -> None:
    if not isinstance(schema, Schema):
        return
    if schema.one_of:
        for kind, names in _BOUNDS.items():
            for name in names:
                value = getattr(schema, name)
                if value is None:
                    continue
                branches = [b for b in schema.one_of if isinstance(b, Schema) and kind in _types(b)]
                if not branches:
                    continue
                for branch in branches:
                    if getattr(branch, name) is None:
                        setattr(branch, name, value)
                setattr(schema, name, None)
    if schema.prefix_items and schema.min_items is None and schema.max_items is None:
        schema.min_items = schema.max_items = len(schema.prefix_items)
    for child in _children(schema):
        _tighten(child)


def _drop_null(schema: Any) -> None:
    if not isinstance(schema, Schema) or not schema.one_of:
        return
    kept = [b for b in schema.one_of if not (isinstance(b, Schema) and _types(b) == {OpenAPIType.NULL})]
    if len(kept) == 1 and isinstance(kept[0], Schema) and len(kept) < len(schema.one_of):
        branch = kept[0]
        schema.one_of = None
        for field in dataclasses.fields(Schema):
            value = getattr(branch, field.name)
            if value is not None and getattr(schema, field.name) is None:
                setattr(schema, field.name, value)


def _strict_struct_names() -> set[str]:
    names = set()
    for name, module in list(sys.modules.items()):
        if not name.startswith("cityhub_gateway"):
            continue
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, msgspec.Struct)
                and value.__struct_config__.forbid_unknown_fields
            ):
                names.add(value.__name__)
    return names


def tighten(document: OpenAPI) -> None:
    """Applied once to the finished document (cityhub_gateway.openapi.complete_openapi)."""
    strict = _strict_struct_names()
    schemas = (document.components.schemas or {}) if document.components else {}
    for name, schema in schemas.items():
        _tighten(schema)
        if name in strict and isinstance(schema, Schema) and schema.additional_properties is None:
            schema.additional_properties = False
    for item in (document.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method)
            if operation is None:
                continue
            for parameter in operation.parameters or ():
                parameter_schema = getattr(parameter, "schema", None)
                _tighten(parameter_schema)
                _drop_null(parameter_schema)
            body = getattr(operation.request_body, "content", None) or {}
            for media in body.values():
                _tighten(media.schema)
