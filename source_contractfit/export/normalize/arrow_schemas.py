"""The declared Arrow schemas of the analytics tables, from the columns of `schemas.py`.

Apart from `schemas.py` because it needs pyarrow (the export extra), and the columns do
not: the Airbyte source reads them on the base install.
"""

from __future__ import annotations

from source_contractfit.extras import require

# Before the imports of pyarrow and DuckDB below: one line naming the extra if missing.
require("source_contractfit.export.normalize.arrow_schemas", "export")

import pyarrow as pa

from source_contractfit.export.normalize.schemas import (
    BOOL,
    COLUMNS,
    DATE,
    FLOAT,
    INT,
    JSON,
    PRIMARY_KEYS,
    SCHEMA_VERSION,
    STRING,
    TIMESTAMP,
    Column,
)

ARROW_TYPES: dict[str, pa.DataType] = {
    STRING: pa.string(),
    INT: pa.int64(),
    FLOAT: pa.float64(),
    BOOL: pa.bool_(),
    DATE: pa.date32(),
    TIMESTAMP: pa.timestamp("us", tz="UTC"),
    JSON: pa.string(),  # JSON text
}


def arrow_schema(table: str, columns: tuple[Column, ...]) -> pa.Schema:
    """The Arrow schema of a table; PK columns non-nullable, metadata names the version."""
    keys = set(PRIMARY_KEYS[table])
    fields = [pa.field(name, ARROW_TYPES[k], nullable=name not in keys) for name, k in columns]
    metadata = {"contractfit.table": table, "contractfit.schema_version": str(SCHEMA_VERSION)}
    return pa.schema(fields, metadata=metadata)


TABLES: dict[str, pa.Schema] = {name: arrow_schema(name, cols) for name, cols in COLUMNS.items()}
