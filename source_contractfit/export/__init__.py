"""`contractfit export`: the engine's streams into DuckDB and/or Parquet, exactly once.

Here: `exporter.py` (read units, commit each checkpoint with its rows), `normalize/`
(Documents and records to declared Arrow tables; unknown keys kept in `extra`, bad input
one reject), `sinks/` (atomic DuckDB and Parquet writers). Not here: the analytics views
(`analytics/`), how streams are read (`read/`).

The exporter and the sinks need the export extra (pyarrow, DuckDB) and say so when it is
missing; the normalization specification does not: the Airbyte source is built on it.
"""
