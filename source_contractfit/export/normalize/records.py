"""Records of the plain streams (metadata, stats, usage) -> one row of the stream's table.

Each column is coerced by the kind declared in schemas.py (same rules as documents, see
values.py); keys the table does not declare go to `extra` and count as drift under
"<stream>.<key>". A record whose primary-key column is null or missing is rejected: it
could not be upserted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from source_contractfit.export.normalize.documents import Normalized, Row
from source_contractfit.export.normalize.drift import Extra, collect_unknown, extra_json
from source_contractfit.export.normalize.schemas import (
    BOOL,
    DATE,
    FLOAT,
    INT,
    JSON,
    PRIMARY_KEYS,
    STREAM_TABLE_COLUMNS,
    STRING,
    TIMESTAMP,
)
from source_contractfit.export.normalize.values import (
    NormalizationError,
    boolean,
    integer,
    iso_date,
    json_text,
    key_label,
    kind,
    number,
    text,
    timestamp,
)

CONVERTERS: dict[str, Callable[[Any, str], Any]] = {
    STRING: text,
    INT: integer,
    FLOAT: number,
    BOOL: boolean,
    DATE: iso_date,
    TIMESTAMP: timestamp,
    JSON: json_text,
}
_KNOWN: dict[str, frozenset[str]] = {
    stream: frozenset(name for name, _ in columns if name != "extra")
    for stream, columns in STREAM_TABLE_COLUMNS.items()
}


def record_rows(stream: str, record: Any) -> list[Row]:
    """The row (as a one-item list) of one record of `stream`; raises NormalizationError."""
    return normalize_record(stream, record).rows[stream]


def normalize_record(stream: str, record: Any) -> Normalized:
    """One record -> its row and drift, or NormalizationError."""
    columns = STREAM_TABLE_COLUMNS.get(stream) if isinstance(stream, str) else None
    if columns is None:
        raise NormalizationError(
            f"no table for stream {key_label(stream)}; documents go through add_document"
        )
    if not isinstance(record, dict):
        raise NormalizationError(f"a record must be an object, got {kind(record)}")
    row: Row = {}
    for name, column_kind in columns:
        if name != "extra":
            row[name] = CONVERTERS[column_kind](record.get(name), name)
    for key in PRIMARY_KEYS[stream]:
        if row[key] is None:
            raise NormalizationError("primary-key column is missing or null", (key,))
    drift: Counter[str] = Counter()
    extra: Extra = {}
    collect_unknown(record, _KNOWN[stream], extra, drift, stream)
    row["extra"] = extra_json(extra)
    return Normalized({stream: [row]}, drift)
