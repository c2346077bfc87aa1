"""Where exported tables land: DuckDB (transactional) and Parquet (Hive-partitioned)."""

from source_contractfit.export.sinks.base import Commit, Sink, StoredState, TableKind, table_kind
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
