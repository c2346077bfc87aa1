"""Rows as Airbyte records: the `document_fields` and `document_line_items` streams.

The same rows as the `fields` / `line_items` tables, so an Airbyte destination and the
exporter's Parquet agree; only the encoding differs (timestamps and dates as ISO strings).
Their JSON schemas are files under `airbyte_schemas/`, equal to `airbyte_schema(table)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

import orjson

from source_contractfit.export.normalize.documents import Row, field_rows, line_item_rows
from source_contractfit.export.normalize.schemas import (
    AIRBYTE_STREAM_TABLES,
    BOOL,
    DATE,
    FLOAT,
    INT,
    KINDS,
    PRIMARY_KEYS,
    TIMESTAMP,
)
from source_contractfit.export.normalize.values import UTC

_JSON_TYPES = {INT: "integer", FLOAT: "number", BOOL: "boolean"}
_FORMATS = {DATE: "date", TIMESTAMP: "date-time"}
_DESCRIPTIONS = {
    "fields": (
        "One annotation atom of one version of a document (the fields table); a field whose "
        "list is empty is one row with occurrence -1."
    ),
    "line_items": "One cell of a line-item table of one version of a document.",
}


def json_row(row: Row) -> dict[str, Any]:
    """A normalized row with JSON-safe values: `...Z` timestamps, ISO dates."""
    return {key: _json_value(value) for key, value in row.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def field_records(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Records of `document_fields` for one Document (raises NormalizationError)."""
    return (json_row(row) for row in field_rows(document))


def line_item_records(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Records of `document_line_items` for one Document (raises NormalizationError)."""
    return (json_row(row) for row in line_item_rows(document))


def airbyte_schema(table: str) -> dict[str, Any]:
    """Draft-07 JSON schema of a table's rows as records; PK columns are not nullable."""
    keys = set(PRIMARY_KEYS[table])
    properties: dict[str, Any] = {}
    for name, column_kind in KINDS[table].items():
        json_type = _JSON_TYPES.get(column_kind, "string")
        prop: dict[str, Any] = {"type": json_type if name in keys else [json_type, "null"]}
        if column_kind in _FORMATS:
            prop["format"] = _FORMATS[column_kind]
        properties[name] = prop
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "description": _DESCRIPTIONS.get(table, table),
        "additionalProperties": True,
        "properties": properties,
    }


@cache
def stream_schema(stream: str) -> dict[str, Any]:
    """The packaged JSON schema of `document_fields` or `document_line_items`."""
    if stream not in AIRBYTE_STREAM_TABLES:
        raise KeyError(stream)
    package = resources.files("source_contractfit.export.normalize")
    data = package.joinpath(f"airbyte_schemas/{stream}.json").read_bytes()
    schema: dict[str, Any] = orjson.loads(data)
    return schema
