"""Normalization: Contract.fit records in, typed Arrow record batches of declared tables out.

Pure functions, no I/O, so the exporter's sinks (DuckDB, Parquet) and the Airbyte row
streams read the same typed rows. The API:

    normalizer = Normalizer(batch_rows=10_000, inbox_projects={inbox_id: project_id})
    normalizer.add_document(document)      # -> bool; documents, document_versions,
                                           #    fields, line_items, sections (or 1 reject)
    normalizer.add_record(stream, record)  # -> bool; table named as the stream (or 1 reject)
    for table, batch in normalizer.ready(): ...  # full batches now (exactly batch_rows rows)
    for table, batch in normalizer.flush(): ...  # everything left, at the end of a run
    normalizer.drift     # Counter "<table>.<key path>" -> unknown keys seen (drift_report)
    normalizer.rejected  # inputs that became a `rejects` row; normalizer.rows: rows per table
    normalizer.buffered_rows() -> int; normalizer.pending() -> {table: rows buffered}

    document_rows(doc) -> {table: [row]}; field_rows(doc), line_item_rows(doc) -> [row]
        # fields: one row per atom; a field whose list is `[]` is one row with occurrence
        # -1 (EMPTY_LIST_OCCURRENCE), values null, correct true in an evaluated version
    record_rows(stream, record) -> [row]        # these raise NormalizationError
    to_batch(table, rows) -> pa.RecordBatch     # schema is exactly TABLES[table]
    json_row(row), field_records(doc), line_item_records(doc)  # Airbyte-ready records
    value_text(v), value_number(v), value_date(v), parse_timestamp(s)  # the typing rules
    TABLES, PRIMARY_KEYS (primary_keys()), TABLE_STREAMS, COLUMNS, SCHEMA_VERSION

Rows are dicts keyed by column, with Python values (datetime in UTC, date, int, float,
bool, str, None); `extra` is JSON text. Where every key goes is documented in known.py,
the typing rules (leniency, value text) in values.py.

The specification (rows as dicts, the columns, the typing rules) runs on the base install:
the Airbyte source's `document_fields` and `document_line_items` streams are built on it.
The Arrow side (`Normalizer`, `to_batch`, `TABLES`) needs the export extra, so it is
imported when first asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from source_contractfit.export.normalize.airbyte import (
    airbyte_schema,
    field_records,
    json_row,
    line_item_records,
    stream_schema,
)
from source_contractfit.export.normalize.documents import (
    EMPTY_LIST_OCCURRENCE,
    PREDICTION_VERSION,
    Normalized,
    Row,
    document_rows,
    field_rows,
    line_item_rows,
    normalize_document,
)
from source_contractfit.export.normalize.drift import drift_report
from source_contractfit.export.normalize.records import normalize_record, record_rows
from source_contractfit.export.normalize.rejects import RAW_LIMIT, reject_row
from source_contractfit.export.normalize.schemas import (
    AIRBYTE_STREAM_TABLES,
    COLUMNS,
    PRIMARY_KEYS,
    SCHEMA_VERSION,
    STREAM_TABLE_COLUMNS,
    TABLE_STREAMS,
    primary_keys,
)
from source_contractfit.export.normalize.values import (
    NormalizationError,
    parse_timestamp,
    value_date,
    value_number,
    value_text,
)
from source_contractfit.extras import require

if TYPE_CHECKING:
    from source_contractfit.export.normalize.arrow_schemas import TABLES as TABLES
    from source_contractfit.export.normalize.batch import Normalizer as Normalizer
    from source_contractfit.export.normalize.batch import to_batch as to_batch

_ARROW_SIDE = {"Normalizer": "batch", "to_batch": "batch", "TABLES": "arrow_schemas"}


def __getattr__(name: str) -> Any:
    """`Normalizer`, `to_batch` and `TABLES`, imported on first use (they need pyarrow);
    any other name is an AttributeError, as usual."""
    module = _ARROW_SIDE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    require(f"source_contractfit.export.normalize.{name}", "export")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups do not come here again
    return value


# The names of the specification, which `import *` takes on any install; the Arrow side
# (`Normalizer`, `to_batch`, `TABLES`) is named explicitly by the exporter.
__all__ = [
    "AIRBYTE_STREAM_TABLES",
    "COLUMNS",
    "EMPTY_LIST_OCCURRENCE",
    "PREDICTION_VERSION",
    "PRIMARY_KEYS",
    "RAW_LIMIT",
    "SCHEMA_VERSION",
    "STREAM_TABLE_COLUMNS",
    "TABLE_STREAMS",
    "NormalizationError",
    "Normalized",
    "Row",
    "airbyte_schema",
    "document_rows",
    "drift_report",
    "field_records",
    "field_rows",
    "json_row",
    "line_item_records",
    "line_item_rows",
    "normalize_document",
    "normalize_record",
    "parse_timestamp",
    "primary_keys",
    "record_rows",
    "reject_row",
    "stream_schema",
    "value_date",
    "value_number",
    "value_text",
]
