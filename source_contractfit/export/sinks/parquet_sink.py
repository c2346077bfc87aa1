"""Parquet sink: Hive-partitioned zstd files, replaced atomically, state written last.

Layout: `<root>/<table>/inbox_id=<id>/month=YYYY-MM/part-*.parquet` for tables tied to an
inbox and a time (documents and their children by the document's receive month, stats by
their day), `<root>/<table>/part-*.parquet` for the others. The partition columns live in
the paths, as Hive readers (DuckDB, pyarrow, pandas) expect.

No reader ever sees two live versions of a row after a commit: a partition holding a
re-emitted document (or a stats key read again) is rewritten as one new file without the
old rows. Every file is written under a temporary name and renamed into place; replacing
files is recorded in an intent file first, so a crash in between is rolled forward (new
file present) or back (not yet renamed) when the sink is next opened. The state file is
written, atomically, only after all the data of its commit.
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from source_contractfit.api.errors import ConfigError
from source_contractfit.export.sinks.base import (
    DOCUMENT_TABLES,
    Commit,
    StoredState,
    TableKind,
    table_kind,
)

STATE_FILE = "_contractfit_state.json"
INTENT_FILE = "_contractfit_intent.json"
PARTITION_COLUMNS = ("inbox_id", "month")
COMPACT_ABOVE_FILES = 8


def arrow_table(result: Any) -> pa.Table:
    """A DuckDB result as an Arrow table (the method's name changed in DuckDB 2.0)."""
    to_table = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table
    table: pa.Table = to_table()
    return table


def _read(files: list[Path], schema: pa.Schema | None) -> pa.Table:
    """Files of one partition, without the partition columns their path implies."""
    tables = [pq.read_table(path, partitioning=None) for path in files]
    if schema is not None:
        tables = [t.select(schema.names).cast(schema) for t in tables]
    return pa.concat_tables(tables) if tables else pa.Table.from_batches([], schema=schema)


def write_atomically(path: Path, data: bytes) -> None:
    temp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def _check_directory(root: Path) -> None:
    """Create `root` if needed and prove it writable, or a ConfigError (exit 2) saying why:
    an existing file, a folder we may not create or write into."""
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--parquet {root} is a file, not a directory; give a folder.")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"--parquet {root}: a part of this path is a file.") from None
    except OSError as error:
        raise ConfigError(f"--parquet {root} cannot be created: {error.strerror}.") from None
    probe = root / f".tmp-probe-{uuid.uuid4().hex}"
    try:
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise ConfigError(
            f"--parquet {root} is not writable ({error.strerror}); give a folder this user "
            "can write."
        ) from None


class ParquetSink:
    name = "parquet"

    def __init__(
        self,
        root: str | Path,
        schemas: dict[str, pa.Schema],
        primary_keys: dict[str, tuple[str, ...]],
        schema_version: int,
    ) -> None:
        self.root = Path(root)
        _check_directory(self.root)
        self.schemas = schemas
        self.primary_keys = primary_keys
        self.schema_version = schema_version
        self._known_ids: dict[Path, set[str]] = {}
        self._stale: dict[Path, set[str]] = {}
        self._recover()

    # -- state -------------------------------------------------------------------------
    def load_state(self) -> StoredState:
        path = self.root / STATE_FILE
        if not path.exists():
            return StoredState(0, {})
        data = orjson.loads(path.read_bytes())
        return StoredState(int(data.get("sequence", 0)), data.get("streams", {}))

    def _write_state(self, streams: dict[str, Any], sequence: int) -> None:
        body = {"sequence": sequence, "schema_version": self.schema_version, "streams": streams}
        write_atomically(self.root / STATE_FILE, orjson.dumps(body, option=orjson.OPT_INDENT_2))

    # -- crash safety ------------------------------------------------------------------
    def _recover(self) -> None:
        """Finish or undo a file replacement a crash interrupted; drop stray temp files."""
        intent = self.root / INTENT_FILE
        if intent.exists():
            plan = orjson.loads(intent.read_bytes())
            new = Path(plan["new"])
            if new.exists():
                for old in plan["old"]:
                    Path(old).unlink(missing_ok=True)
            else:
                Path(plan["temp"]).unlink(missing_ok=True)
            intent.unlink()
        for temp in self.root.rglob(".tmp-*"):
            temp.unlink(missing_ok=True)

    def _replace(
        self, directory: Path, table: pa.Table | Iterator[pa.Table], old: list[Path]
    ) -> None:
        """Write `table` (or a stream of tables, one at a time: memory stays bounded by the
        largest piece, not the partition) as one file that atomically replaces `old`."""
        directory.mkdir(parents=True, exist_ok=True)
        name = f"part-{uuid.uuid4().hex}.parquet"
        final = directory / name
        temp = directory / f".tmp-{name}"
        if isinstance(table, pa.Table):
            pq.write_table(table, temp, compression="zstd")
        else:
            writer: pq.ParquetWriter | None = None
            for piece in table:
                if writer is None:
                    writer = pq.ParquetWriter(temp, piece.schema, compression="zstd")
                writer.write_table(piece)
            if writer is None:
                return
            writer.close()
        if old:
            plan = {"temp": str(temp), "new": str(final), "old": [str(p) for p in old]}
            write_atomically(self.root / INTENT_FILE, orjson.dumps(plan))
        os.replace(temp, final)
        for path in old:
            path.unlink(missing_ok=True)
        if old:
            (self.root / INTENT_FILE).unlink()

    # -- writing -----------------------------------------------------------------------
    def reset(self, tables: set[str]) -> None:
        for table in tables:
            for path in sorted((self.root / table).rglob("*.parquet")):
                path.unlink()
        (self.root / STATE_FILE).unlink(missing_ok=True)
        self._known_ids.clear()

    def apply(self, commit: Commit, sequence: int) -> None:
        months = self._document_months(commit)
        # Decided before anything is written: which documents replace stored ones.
        stale_by_partition: dict[Path, set[str]] = defaultdict(set)
        for doc_id, (inbox, month) in months.items():
            relative = Path(f"inbox_id={inbox}") / f"month={month}"
            if doc_id in self._ids_in(relative):
                stale_by_partition[relative].add(doc_id)
        self._stale = stale_by_partition
        for table in commit.snapshots:
            rows = commit.batches.get(table, [])
            data = pa.Table.from_batches(rows, schema=self.schemas[table])
            self._replace(self.root / table, data, sorted((self.root / table).glob("*.parquet")))
        for table, batches in commit.batches.items():
            if table in commit.snapshots:
                continue
            data = pa.Table.from_batches(batches, schema=self.schemas[table])
            for directory, part in self._partitions(table, data, months).items():
                self._write_partition(table, directory, part, commit)
        if commit.states or commit.batches or commit.snapshots:
            streams = dict(self.load_state().streams)
            streams.update(commit.states)
            self._write_state(streams, sequence)

    def _document_months(self, commit: Commit) -> dict[str, tuple[str, str]]:
        """document id -> (inbox_id, YYYY-MM of its receive time), for child tables."""
        out: dict[str, tuple[str, str]] = {}
        for batch in commit.batches.get("documents", []):
            ids = batch.column("id").to_pylist()
            inboxes = batch.column("inbox_id").to_pylist()
            times = pc.strftime(batch.column("receive_time"), format="%Y-%m").to_pylist()
            for doc_id, inbox, month in zip(ids, inboxes, times, strict=True):
                out[doc_id] = (inbox or "unknown", month or "unknown")
        return out

    def _partitions(
        self, table: str, data: pa.Table, months: dict[str, tuple[str, str]]
    ) -> dict[Path, pa.Table]:
        base = self.root / table
        names = data.column_names
        if "inbox_id" not in names or table_kind(table) is TableKind.APPEND:
            return {base: data}
        if table in DOCUMENT_TABLES:
            key = data.column(DOCUMENT_TABLES[table]).to_pylist()
            where = [months.get(k, ("unknown", "unknown")) for k in key]
            inbox = [w[0] for w in where]
            month = [w[1] for w in where]
        elif "date" in names:
            inbox = data.column("inbox_id").to_pylist()
            month = [
                d.strftime("%Y-%m") if d else "unknown" for d in data.column("date").to_pylist()
            ]
        else:
            return {base: data}
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for index, pair in enumerate(zip(inbox, month, strict=True)):
            groups[(pair[0] or "unknown", pair[1])].append(index)
        stored = data.drop_columns([c for c in PARTITION_COLUMNS if c in names])
        return {
            base / f"inbox_id={i}" / f"month={m}": stored.take(pa.array(rows))
            for (i, m), rows in groups.items()
        }

    def _write_partition(self, table: str, directory: Path, part: pa.Table, commit: Commit) -> None:
        existing = sorted(directory.glob("*.parquet")) if directory.exists() else []
        kind = table_kind(table)
        if kind is TableKind.DOCUMENT:
            key = DOCUMENT_TABLES[table]
            stale = self._stale.get(directory.relative_to(self.root / table), set())
            if not stale:
                self._replace(directory, part, [])
                self._remember(table, directory, part, key)
                return
            merged = self._without(existing, key, stale, part)
        elif kind is TableKind.KEYED and existing:
            merged = self._merge_keyed(existing, part, self.primary_keys[table])
        else:
            self._replace(directory, part, [])
            return
        self._replace(directory, merged, existing)
        if table == "documents":
            self._known_ids.pop(directory, None)

    def _ids_in(self, relative: Path) -> set[str]:
        """Document ids stored in one partition (of the documents table, same layout)."""
        directory = self.root / "documents" / relative
        if directory not in self._known_ids:
            files = sorted(directory.glob("*.parquet")) if directory.exists() else []
            ids: set[str] = set()
            for path in files:
                table = pq.read_table(path, columns=["id"], partitioning=None)
                ids.update(table.column("id").to_pylist())
            self._known_ids[directory] = ids
        return self._known_ids[directory]

    def _remember(self, table: str, directory: Path, part: pa.Table, key: str) -> None:
        if table == "documents" and directory in self._known_ids:
            self._known_ids[directory].update(part.column(key).to_pylist())

    def _without(
        self, files: list[Path], key: str, stale: set[str], part: pa.Table
    ) -> Iterator[pa.Table]:
        """The partition's rows minus the stale documents, file by file, then the new rows."""
        stale_ids = pa.array(sorted(stale))
        for path in files:
            old = _read([path], part.schema)
            yield old.filter(pc.invert(pc.is_in(old.column(key), value_set=stale_ids)))
        yield part

    def _merge_keyed(self, files: list[Path], part: pa.Table, keys: tuple[str, ...]) -> pa.Table:
        stored_keys = [k for k in keys if k in part.column_names]
        con = duckdb.connect()
        con.register("old", _read(files, part.schema))
        con.register("new", part)
        match = " AND ".join(f'old."{k}" IS NOT DISTINCT FROM new."{k}"' for k in stored_keys)
        result = con.sql(
            f"SELECT * FROM old WHERE NOT EXISTS (SELECT 1 FROM new WHERE {match}) "
            "UNION ALL SELECT * FROM new"
        )
        merged = arrow_table(result)
        con.close()
        return merged.cast(part.schema)

    def compact(self) -> None:
        """Merge partitions grown into many small files (one per checkpoint) into one."""
        for table in self.schemas:
            folders = {p.parent for p in (self.root / table).rglob("part-*.parquet")}
            for directory in folders:
                files = sorted(directory.glob("part-*.parquet"))
                if len(files) > COMPACT_ABOVE_FILES:
                    schema = pq.read_schema(files[0])
                    pieces = (_read([path], schema) for path in files)
                    self._replace(directory, pieces, files)
        self._known_ids.clear()

    def close(self) -> None:
        self._known_ids.clear()
