"""Where exported tables land: DuckDB (transactional) and Parquet (Hive-partitioned)."""

from .base import Commit, Sink, StoredState, TableKind, table_kind
from .duckdb_sink import DuckDBSink
from .parquet_sink import ParquetSink

__all__ = [
    "Commit",
    "DuckDBSink",
    "ParquetSink",
    "Sink",
    "StoredState",
    "TableKind",
    "table_kind",
]
