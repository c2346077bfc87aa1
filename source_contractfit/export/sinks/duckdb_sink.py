"""DuckDB sink: one transaction holds the data and the state it makes true.

A transaction ends at a durable commit (the ones before it since the last, not durable,
ride in it). A crash anywhere (even `kill -9` mid-commit) leaves the file with either the
old rows and old state or the new rows and new state, so the next run resumes exactly
where the committed data ends. Arrow batches go in through DuckDB's Arrow scan, never row by row.
The sink stores data and state only; the analytics layer puts its views in the file.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa

from source_contractfit.api.errors import ConfigError
from source_contractfit.export.arrays import strings
from source_contractfit.export.sinks.base import (
    DOCUMENT_TABLES,
    Commit,
    StoredState,
    TableKind,
    table_kind,
)

logger = logging.getLogger("source_contractfit.export.sinks.duckdb_sink")
STATE_TABLE = "_contractfit_state"
META_TABLE = "_contractfit_meta"
MEMORY_LIMIT_MB = 64
# Row groups of this many rows (DuckDB's default: 122,880). DuckDB writes a transaction's
# appends to the file as compressed row groups once a table's reach one (optimistic
# writing); smaller appends go to the write-ahead log at COMMIT and are compressed again
# at the next checkpoint. The export's commits hold ~100k rows over five tables, so with
# the default nearly every row took the slow road: storing 10k documents (five tables,
# commits of 2,000) took 1.96-2.11 s, 1.08-1.26 s with 16,384 (32,768: 1.17-1.40 s), for
# a file 5-25% larger. ATTACH takes the size; a file opened later reads it as it is.
ROW_GROUP_ROWS = 16_384
# A bounded buffer pool (DuckDB otherwise keeps up to 80% of RAM of table pages cached, so
# the exporter's memory would grow with the size of the export) and one thread: the
# appends are single-threaded anyway, and a second DuckDB thread only competed with the
# reader for the machine's cores (10k export: 2.69-2.75 s with one, 3.43-3.59 s with two).
CONNECTION_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "memory_limit": f"{MEMORY_LIMIT_MB}MB",
    "threads": 1,
}
# A value DuckDB stores needs a few times its size in buffer memory while it is inserted.
VALUE_MEMORY_FACTOR = 4
MIB = 1024 * 1024
# Values below this fit the usual cap beside everything else: no commit of ordinary
# documents changes the cap (that would be two statements more per commit).
LARGE_VALUE_BYTES = MIB
# The file is attached only while a commit is written (`_release`). A reader that holds
# it (`contractfit sql`, `report`) is waited for this long before the export fails, and
# asked again this often.
WRITER_WAIT_SECONDS = 300.0
LOCK_RETRY_SECONDS = 0.1


def locked(error: BaseException) -> bool:
    """Whether `error` is DuckDB refusing a file another process holds."""
    return "Could not set lock on file" in str(error)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def longest_value(column: pa.Array) -> int:
    """Bytes of the longest value of a string or binary column (32-bit offsets), read off
    its offsets with numpy: a pyarrow.compute call per column of every commit cost more
    in a busy process (each hands the GIL over) than the whole check is worth."""
    if not len(column):
        return 0
    offsets = np.frombuffer(
        column.buffers()[1], dtype=np.int32, count=len(column) + 1, offset=4 * column.offset
    )
    return int(np.diff(offsets).max())


def memory_needed_mb(commit: Commit) -> int:
    """The buffer memory a commit needs: the usual cap, or room for its largest value.

    The cap keeps DuckDB from caching table pages up to 80% of RAM, but one value larger
    than the cap (a 50 MB string: the client lets a response reach `max_response_mb`)
    could then never be stored, and the run would fail on that document every time. So a
    commit holding such a value lifts the cap for its own transaction, and only then.
    """
    largest = 0
    for batches in commit.batches.values():
        for batch in batches:
            for column in batch.columns:
                # A column whose whole text is below the threshold holds no large value:
                # that O(1) look spares most columns the scan of their offsets.
                textual = pa.types.is_string(column.type) or pa.types.is_binary(column.type)
                if textual and column.nbytes >= LARGE_VALUE_BYTES:
                    largest = max(largest, longest_value(column))
    if largest < LARGE_VALUE_BYTES:
        return MEMORY_LIMIT_MB
    return MEMORY_LIMIT_MB + VALUE_MEMORY_FACTOR * -(-largest // MIB)


class DuckDBSink:
    name = "duckdb"

    def __init__(
        self,
        path: str | Path,
        schemas: dict[str, pa.Schema],
        primary_keys: dict[str, tuple[str, ...]],
        schema_version: int,
    ) -> None:
        self.path = Path(path)
        self._open = False  # a transaction holds commits not durable yet
        self.schemas = schemas
        self.primary_keys = primary_keys
        # Spilled pages go beside the file (where DuckDB puts them for a database it opens
        # itself), not into a `.tmp` of the working directory.
        self._con = duckdb.connect(
            config=CONNECTION_CONFIG | {"temp_directory": f"{self.path}.tmp"}
        )
        self._attached = False
        try:
            self._attach()
        except BaseException:
            self._con.close()
            raise
        self._create(schema_version)

    # -- the file, held only while it is written ---------------------------------------

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The connection, with the file attached (it stays so until the next release)."""
        self._attach()
        return self._con

    def _attach(self) -> None:
        """Attach the file, waiting up to WRITER_WAIT_SECONDS for readers to close it."""
        if self._attached:
            return
        literal = "'" + str(self.path).replace("'", "''") + "'"
        deadline = time.monotonic() + WRITER_WAIT_SECONDS
        warned = False
        while True:
            try:
                self._con.execute(f"ATTACH {literal} AS export (ROW_GROUP_SIZE {ROW_GROUP_ROWS})")
                break
            except duckdb.Error as error:
                if not locked(error) or time.monotonic() >= deadline:
                    raise ConfigError(f"Cannot open DuckDB file {self.path}: {error}") from None
                if not warned:
                    warned = True
                    logger.warning(
                        "%s is open in another process (a `contractfit sql` or `report`?); "
                        "waiting up to %.0f s for it to close it.",
                        self.path, WRITER_WAIT_SECONDS,
                    )  # fmt: skip
                time.sleep(LOCK_RETRY_SECONDS)
        self._con.execute("USE export")
        self._attached = True

    def _release(self) -> None:
        """Detach the file between commits, so that readers (`contractfit sql`, `report`,
        a dashboard) can open it: DuckDB lets one process write a file, or several read
        it, never both. Held only while a transaction is open."""
        if self._attached and not self._open:
            self._con.execute("USE memory")
            self._con.execute("DETACH export")
            self._attached = False

    def _create(self, schema_version: int) -> None:
        con = self.con
        con.execute("BEGIN")
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key VARCHAR PRIMARY KEY, value VARCHAR)"
        )
        found = con.execute(
            f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'"
        ).fetchall()
        row = found[0] if found else None
        if row is not None and int(row[0]) != schema_version:
            con.execute("ROLLBACK")
            raise ConfigError(
                f"{self.path} holds tables of schema version {row[0]}; this exporter writes "
                f"version {schema_version}. Export to a new file or run with --full-refresh."
            )
        con.execute(
            f"INSERT OR REPLACE INTO {META_TABLE} VALUES ('schema_version', ?)",
            [str(schema_version)],
        )
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} "
            "(stream VARCHAR PRIMARY KEY, blob VARCHAR, sequence BIGINT)"
        )
        for table, schema in self.schemas.items():
            con.register("_empty", pa.Table.from_batches([], schema=schema))
            con.execute(f"CREATE TABLE IF NOT EXISTS {_quote(table)} AS SELECT * FROM _empty")
            con.unregister("_empty")
        con.execute("COMMIT")

    def load_state(self) -> StoredState:
        try:
            rows = self.con.execute(f"SELECT stream, blob, sequence FROM {STATE_TABLE}").fetchall()
        finally:
            self._release()
        streams = {stream: orjson.loads(blob) for stream, blob, _ in rows}
        sequence = max((seq for _, _, seq in rows), default=0)
        return StoredState(sequence, streams)

    def reset(self, tables: set[str]) -> None:
        """--full-refresh: empty the tables and forget the state, in one transaction."""
        con = self.con
        try:
            con.execute("BEGIN")
            for table in tables:
                con.execute(f"DELETE FROM {_quote(table)}")
            con.execute(f"DELETE FROM {STATE_TABLE}")
            con.execute("COMMIT")
        finally:
            self._release()

    def replace_state(self, streams: Mapping[str, Any], sequence: int) -> None:
        con = self.con
        con.execute("BEGIN")
        try:
            con.execute(f"DELETE FROM {STATE_TABLE}")
            for stream, blob in streams.items():
                con.execute(
                    f"INSERT INTO {STATE_TABLE} VALUES (?, ?, ?)",
                    [stream, orjson.dumps(blob).decode(), sequence],
                )
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        finally:
            self._release()

    def apply(self, commit: Commit, sequence: int) -> None:
        """Store `commit` in the open transaction (begun if none is), then COMMIT it if it
        is durable. A commit that is not durable stays in the transaction with the ones
        before it: with DuckDB's default row groups a COMMIT checkpointed every table it
        touched (storing 10,000 documents in eight commits took 4.5 s, 3.1 s of them in
        COMMIT; with one COMMIT for the eight, 2.0-2.1 s). With ROW_GROUP_ROWS the large
        tables' rows are written as they are appended and a COMMIT costs little, so this
        matters for the small tables and for commits due by time. A failure rolls back
        all the transaction holds: the file keeps the last durable commit, data and state."""
        con = self.con
        needed_mb = memory_needed_mb(commit)
        if needed_mb > MEMORY_LIMIT_MB:
            con.execute(f"SET memory_limit = '{needed_mb}MB'")
        try:
            if not self._open:
                con.execute("BEGIN")
                self._open = True
            try:
                self._apply(commit, sequence)
                # A lifted cap lasts this call only, so its value is made durable within it.
                if commit.durable or needed_mb > MEMORY_LIMIT_MB:
                    self._open = False
                    con.execute("COMMIT")
            except BaseException:
                self._open = False
                with contextlib.suppress(duckdb.Error):  # a failed COMMIT has rolled back
                    con.execute("ROLLBACK")
                raise
        finally:
            if needed_mb > MEMORY_LIMIT_MB:
                con.execute(f"SET memory_limit = '{MEMORY_LIMIT_MB}MB'")
            self._release()

    def _apply(self, commit: Commit, sequence: int) -> None:
        con = self.con
        if commit.document_ids:
            ids = pa.table({"id": strings(sorted(commit.document_ids))})
            con.register("_replaced_ids", ids)
            # Only documents already stored need their old rows removed; checking the
            # documents table first spares a scan of the large child tables for new ones.
            ((stored,),) = con.execute(
                'SELECT count(*) FROM "documents" WHERE id IN (SELECT id FROM _replaced_ids)'
            ).fetchall()
            if stored:
                for table, key in DOCUMENT_TABLES.items():
                    if table in self.schemas:
                        con.execute(
                            f"DELETE FROM {_quote(table)} WHERE {_quote(key)} IN "
                            "(SELECT id FROM _replaced_ids)"
                        )
            con.unregister("_replaced_ids")
        for table in commit.snapshots:
            con.execute(f"DELETE FROM {_quote(table)}")
        for table, batches in commit.batches.items():
            staged = pa.Table.from_batches(batches, schema=self.schemas[table])
            con.register("_staged", staged)
            if table_kind(table) is TableKind.KEYED:
                target = _quote(table)
                match = " AND ".join(
                    f"{target}.{_quote(k)} = _staged.{_quote(k)}" for k in self.primary_keys[table]
                )
                con.execute(f"DELETE FROM {target} USING _staged WHERE {match}")
            con.execute(f"INSERT INTO {_quote(table)} BY NAME SELECT * FROM _staged")
            con.unregister("_staged")
        for stream, blob in commit.states.items():
            con.execute(
                f"INSERT OR REPLACE INTO {STATE_TABLE} VALUES (?, ?, ?)",
                [stream, orjson.dumps(blob).decode(), sequence],
            )
        if not commit.states:
            con.execute(f"UPDATE {STATE_TABLE} SET sequence = ?", [sequence])
        # When the data was last brought up to date (the report shows it).
        con.execute(
            f"INSERT OR REPLACE INTO {META_TABLE} VALUES ('last_commit_at', ?)",
            [datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")],
        )

    def execute(self, sql: str, params: Any = None) -> Any:
        return self.con.execute(sql, params)

    def close(self) -> None:
        """Commit what the open transaction holds (whole commits only: one that failed
        rolled the transaction back), then close. Reached with a transaction open only
        when a run stops between two durable commits (an interrupt, an unexpected error)."""
        if self._open:
            self._open = False
            try:
                self._con.execute("COMMIT")
            except duckdb.Error as error:
                logger.warning("The last commits to %s were not stored: %s", self.path, error)
        self._con.close()
