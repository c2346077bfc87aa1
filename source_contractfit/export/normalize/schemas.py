"""Declared columns of the analytics tables: the contract the SQL is written against.

The document tables are declared here as (column, kind) pairs, in order. The tables of
the plain streams (every stream but the document family: metadata, stats, usage) are
derived at import from their definitions (`streams/metadata.py`, `streams/stats.py`):
one table per stream, its columns from the stream's JSON schema, its key from the
stream's primary key. So there is one place to change them; whoever changes such a
schema changes the table too. The Arrow schema, the Airbyte JSON schema of the
row-shaped streams and the value coercion all follow from the kind. Bump `SCHEMA_VERSION`
whenever a column is added, renamed or retyped, so sinks can tell a stored table from an
older layout. Primary-key columns are non-nullable; everything else is nullable.

Plain data, no pyarrow: the Airbyte source's row streams are built on it and run on the
base install. The Arrow schemas themselves are in `arrow_schemas.py` (the export extra).
"""

from __future__ import annotations

from typing import Any

from source_contractfit.streams.base import StreamDef
from source_contractfit.streams.metadata import METADATA_STREAMS
from source_contractfit.streams.stats import STATS_STREAMS

SCHEMA_VERSION = 1

STRING, INT, FLOAT, BOOL, DATE, TIMESTAMP, JSON = (
    "string", "int", "float", "bool", "date", "timestamp", "json",
)  # fmt: skip

Column = tuple[str, str]
EXTRA: Column = ("extra", JSON)

# The typed view of one annotation atom or line-item cell, shared by fields and line_items.
VALUE_COLUMNS: tuple[Column, ...] = (
    ("value", STRING),
    ("value_number", FLOAT),
    ("value_date", DATE),
    ("value_bool", BOOL),
    ("text", STRING),
    ("confidence", FLOAT),
    ("page", INT),
    ("ul_line", INT),
    ("ul_char", INT),
    ("lr_line", INT),
    ("lr_char", INT),
    ("flagged", BOOL),
    ("gold", STRING),
    ("correct", BOOL),
)

DOCUMENT_TABLE_COLUMNS: dict[str, tuple[Column, ...]] = {
    "documents": (
        ("id", STRING),
        ("inbox_id", STRING),
        ("project_id", STRING),
        ("original_filename", STRING),
        ("page_count", INT),
        ("document_type", STRING),
        ("format_id", STRING),
        ("flag_for_review", BOOL),
        ("is_stp", BOOL),
        ("sampling", BOOL),
        ("submitted", BOOL),
        ("submitted_by", STRING),
        ("rejected", BOOL),
        ("escalated", BOOL),
        ("locked", BOOL),
        ("archived", BOOL),
        ("last_version", STRING),
        ("versions_count", INT),
        ("evaluated", BOOL),
        ("document_correct", BOOL),
        ("receive_time", TIMESTAMP),
        ("start_time", TIMESTAMP),
        ("done_time", TIMESTAMP),
        ("processing_period", FLOAT),
        ("feedback_time", TIMESTAMP),
        ("submit_time", TIMESTAMP),
        ("review_latency_seconds", FLOAT),
        ("pages", INT),
        ("source", STRING),
        EXTRA,
    ),
    "document_versions": (
        ("document_id", STRING),
        ("version_index", INT),
        ("inbox_id", STRING),
        ("name", STRING),
        ("source", STRING),
        ("is_evaluated", BOOL),
        ("cmp_version", STRING),
        ("timestamp", TIMESTAMP),
        ("by", STRING),
        ("fields_total", INT),
        ("fields_correct", INT),
        ("document_correct", BOOL),
        EXTRA,
    ),
    "fields": (
        ("document_id", STRING),
        ("version_index", INT),
        ("inbox_id", STRING),
        ("version_name", STRING),
        ("is_evaluated", BOOL),
        ("field_name", STRING),
        ("occurrence", INT),
        *VALUE_COLUMNS,
        EXTRA,
    ),
    "line_items": (
        ("document_id", STRING),
        ("version_index", INT),
        ("inbox_id", STRING),
        ("version_name", STRING),
        ("is_evaluated", BOOL),
        ("table_name", STRING),
        ("row_index", INT),
        ("column_name", STRING),
        *VALUE_COLUMNS,
        EXTRA,
    ),
    "sections": (
        ("document_id", STRING),
        ("version_index", INT),
        ("inbox_id", STRING),
        ("section_index", INT),
        ("page", INT),
        ("document_type", STRING),
        ("format_id", STRING),
        ("confidence", FLOAT),
        EXTRA,
    ),
}

REJECT_COLUMNS: tuple[Column, ...] = (
    ("stream", STRING),
    ("record_id", STRING),
    ("reason", STRING),
    ("raw", STRING),
    ("rejected_at", TIMESTAMP),
)

# One table per plain stream, named as the stream: its JSON schema's properties + extra.
# The document family (streams/documents.py) is built on this package, so the plain
# streams come from their own modules, not from the catalog.
PLAIN_STREAMS: tuple[StreamDef, ...] = tuple(
    stream for stream in (*METADATA_STREAMS, *STATS_STREAMS) if stream.has_table
)
STREAM_TABLE_NAMES = tuple(stream.name for stream in PLAIN_STREAMS)
# Full-refresh streams (no cursor): their table is replaced whole when the stream is read.
SNAPSHOT_TABLES = frozenset(stream.name for stream in PLAIN_STREAMS if not stream.incremental)


def columns_from_json_schema(schema: dict[str, Any]) -> tuple[Column, ...]:
    """(column, kind) pairs a stream's JSON schema implies, plus `extra`; the rule of table 7."""
    columns: list[Column] = []
    for name, prop in schema.get("properties", {}).items():
        declared = prop.get("type", [])
        types = [t for t in ([declared] if isinstance(declared, str) else declared) if t != "null"]
        fmt = prop.get("format")
        if types == ["string"]:
            k = {"date": DATE, "date-time": TIMESTAMP}.get(fmt, STRING)
        elif types == ["integer"]:
            k = INT
        elif types == ["number"]:
            k = FLOAT
        elif types == ["boolean"]:
            k = BOOL
        else:  # object, array, several types or any: JSON text
            k = JSON
        columns.append((name, k))
    columns.append(EXTRA)
    return tuple(columns)


STREAM_TABLE_COLUMNS: dict[str, tuple[Column, ...]] = {
    stream.name: columns_from_json_schema(stream.json_schema()) for stream in PLAIN_STREAMS
}

COLUMNS: dict[str, tuple[Column, ...]] = {
    **DOCUMENT_TABLE_COLUMNS,
    "rejects": REJECT_COLUMNS,
    **STREAM_TABLE_COLUMNS,
}

PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "documents": ("id",),
    "document_versions": ("document_id", "version_index"),
    "fields": ("document_id", "version_index", "field_name", "occurrence"),
    "line_items": ("document_id", "version_index", "table_name", "row_index", "column_name"),
    "sections": ("document_id", "version_index", "section_index"),
    "rejects": (),  # append-only
    **{
        stream.name: tuple(part for key in stream.primary_key for part in key)
        for stream in PLAIN_STREAMS
    },
}


def primary_keys() -> dict[str, tuple[str, ...]]:
    """A copy of PRIMARY_KEYS (table -> key columns; rejects: none), for the sinks."""
    return dict(PRIMARY_KEYS)


# The stream whose records feed each table (rejects: any stream, named in its own column).
TABLE_STREAMS: dict[str, str | None] = {
    **dict.fromkeys(DOCUMENT_TABLE_COLUMNS, "documents"),
    "rejects": None,
    **{name: name for name in STREAM_TABLE_COLUMNS},
}

# Row-shaped Airbyte streams derived from documents: stream name -> table.
AIRBYTE_STREAM_TABLES: dict[str, str] = {
    "document_fields": "fields",
    "document_line_items": "line_items",
}


KINDS: dict[str, dict[str, str]] = {name: dict(cols) for name, cols in COLUMNS.items()}
