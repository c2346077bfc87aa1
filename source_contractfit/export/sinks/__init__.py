"""Where exported tables land: DuckDB (transactional) and Parquet (Hive-partitioned).

`DuckDBSink` and `ParquetSink` are imported on first use: a process that writes one of
them does not pay for importing the other's engine (duckdb, pyarrow.parquet/compute).
"""

from typing import TYPE_CHECKING, Any

from source_contractfit.extras import require

require("source_contractfit.export.sinks", "export")  # before the imports of the engines

from source_contractfit.export.sinks.base import Commit, Sink, StoredState, TableKind, table_kind

if TYPE_CHECKING:
    from source_contractfit.export.sinks.duckdb_sink import DuckDBSink
    from source_contractfit.export.sinks.parquet_sink import ParquetSink

__all__ = [
    "Commit",
    "DuckDBSink",
    "ParquetSink",
    "Sink",
    "StoredState",
    "TableKind",
    "table_kind",
]


def __getattr__(name: str) -> Any:
    if name == "DuckDBSink":
        from source_contractfit.export.sinks.duckdb_sink import DuckDBSink

        return DuckDBSink
    if name == "ParquetSink":
        from source_contractfit.export.sinks.parquet_sink import ParquetSink

        return ParquetSink
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
