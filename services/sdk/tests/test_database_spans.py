"""Database statements are spans in the caller's trace, with the SQL text but never its values."""

from __future__ import annotations

from cityhub_sdk.db import Database
from cityhub_sdk.testing.plugin import DatabaseFactory
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import text


async def test_statements_are_child_spans_without_bound_values(
    database_factory: DatabaseFactory, span_exporter: InMemorySpanExporter
) -> None:
    db = Database(database_factory.new("spans"))
    span_exporter.clear()
    try:
        with trace.get_tracer("test").start_as_current_span("use-case") as parent:
            async with db.session() as session:
                await session.execute(text("SELECT :email AS who"), {"email": "canary@example.org"})
    finally:
        await db.dispose()
    spans = span_exporter.get_finished_spans()
    statements = [s for s in spans if s.attributes and "db.statement" in s.attributes]
    assert statements, [s.name for s in spans]
    statement = statements[-1]
    assert statement.context.trace_id == parent.get_span_context().trace_id
    assert statement.parent is not None and statement.parent.span_id == parent.get_span_context().span_id
    for span in spans:
        assert "canary@example.org" not in str(dict(span.attributes or {}))
