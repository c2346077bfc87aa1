"""Parquet sink: Hive-partitioned zstd files, replaced atomically, state written last.

Layout: `<root>/<table>/inbox_id=<id>/month=YYYY-MM/part-*.parquet` for tables tied to an
inbox and a time (documents and their children by the document's receive month, stats by
their day), `<root>/<table>/part-*.parquet` for the others. The partition columns live in
the paths, percent-encoded (`parquet_files.hive_segment`), as Hive readers (DuckDB,
pyarrow, pandas) expect and decode.

No reader ever sees two live versions of a row after a commit: a partition holding a
re-emitted document (or a stats key read again) is rewritten as one new file without the
old rows. Every file is written under a temporary name and renamed into place; replacing
files is recorded in an intent file first, so a crash in between is rolled forward (new
file present) or back (not yet renamed) when the sink is next opened. The state file is
written, atomically, only after all the data of its commit. One lock file keeps a second
writer out of the folder while the sink is open.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from source_contractfit.export.arrays import int64s, strings
from source_contractfit.export.sinks.base import (
    DOCUMENT_TABLES,
    Commit,
    StoredState,
    TableKind,
    table_kind,
)
from source_contractfit.export.sinks.parquet_files import (
    INTENT_FILE,
    LOCK_FILE,
    STATE_FILE,
    Intent,
    check_directory,
    hive_segment,
    inside,
    intent_body,
    lock_directory,
    read_intent,
    read_state,
    write_atomically,
)
from source_contractfit.export.sinks.parquet_index import (
    PartitionIndex,
    file_order,
    parquet_file,
    unique_ids,
)

__all__ = ["INTENT_FILE", "LOCK_FILE", "STATE_FILE", "ParquetSink", "arrow_table"]

PARTITION_COLUMNS = ("inbox_id", "month")
# A partition is merged into one file at the end of a run once it holds more files than
# this (each commit that touches it adds one). Readers take tens of files a partition in
# their stride, while merging rewrites every row of the partition: with 8, a 100k export
# (13 files a partition) spent 6.8 s of its 30 s rewriting everything it had just written.
# With 32, a partition is rewritten once per 32 commits that touched it.
COMPACT_ABOVE_FILES = 32


def arrow_table(result: Any) -> pa.Table:
    """A DuckDB result as an Arrow table (the method's name changed in DuckDB 2.0)."""
    to_table = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table
    table: pa.Table = to_table()
    return table


def _read(files: list[Path], schema: pa.Schema | None) -> pa.Table:
    """Files of one partition, without the partition columns their path implies."""
    tables = [parquet_file(path) for path in files]
    if schema is not None:
        tables = [t.select(schema.names).cast(schema) for t in tables]
    return pa.concat_tables(tables) if tables else pa.Table.from_batches([], schema=schema)


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
        check_directory(self.root)
        self.schemas = schemas
        self.primary_keys = primary_keys
        self.schema_version = schema_version
        self._index = PartitionIndex()
        # Before recovery: recovery sweeps temporary files another writer may be writing.
        self._lock: int | None = lock_directory(self.root)
        try:
            self._recover()
        except BaseException:
            self.close()
            raise

    # -- state -------------------------------------------------------------------------
    def load_state(self) -> StoredState:
        return read_state(self.root)

    def replace_state(self, streams: Mapping[str, Any], sequence: int) -> None:
        self._write_state(dict(streams), sequence)

    def _write_state(self, streams: dict[str, Any], sequence: int) -> None:
        body = {"sequence": sequence, "schema_version": self.schema_version, "streams": streams}
        data = orjson.dumps(body, option=orjson.OPT_INDENT_2)
        write_atomically(self.root, self.root / STATE_FILE, data)

    # -- crash safety ------------------------------------------------------------------
    def _recover(self) -> None:
        """Finish or undo a file replacement a crash interrupted; drop stray temp files.
        `read_intent` has proved every path it names inside the folder."""
        intent = read_intent(self.root)
        if intent is not None:
            if intent.new.is_file():
                for old in intent.old:
                    if old != intent.new and not old.is_dir():
                        old.unlink(missing_ok=True)
            elif not intent.temp.is_dir():
                intent.temp.unlink(missing_ok=True)
            (self.root / INTENT_FILE).unlink()
        for temp in self.root.rglob(".tmp-*"):
            if not temp.is_dir():
                inside(self.root, temp).unlink(missing_ok=True)

    def _replace(
        self, directory: Path, table: pa.Table | Iterator[pa.Table], old: list[Path]
    ) -> Path | None:
        """Write `table` (or a stream of tables, one at a time: memory stays bounded by the
        largest piece, not the partition) as one file that atomically replaces `old`.
        Returns the new file (None when the stream was empty: nothing changed)."""
        name = f"part-{uuid.uuid4().hex}.parquet"
        final = inside(self.root, directory / name)
        temp = inside(self.root, directory / f".tmp-{name}")
        for path in old:
            inside(self.root, path)
        directory.mkdir(parents=True, exist_ok=True)
        if isinstance(table, pa.Table):
            pq.write_table(table, temp, compression="zstd")
        else:
            writer: pq.ParquetWriter | None = None
            for piece in table:
                if writer is None:
                    writer = pq.ParquetWriter(temp, piece.schema, compression="zstd")
                writer.write_table(piece)
            if writer is None:
                return None
            writer.close()
        if old:
            plan = intent_body(self.root, Intent(temp, final, old))
            write_atomically(self.root, self.root / INTENT_FILE, plan)
        os.replace(temp, final)
        for path in old:
            path.unlink(missing_ok=True)
        if old:
            (self.root / INTENT_FILE).unlink()
        return final

    # -- writing -----------------------------------------------------------------------
    def reset(self, tables: set[str]) -> None:
        for table in tables:
            for path in sorted((self.root / table).rglob("*.parquet")):
                inside(self.root, path).unlink()
        (self.root / STATE_FILE).unlink(missing_ok=True)
        self._index.clear()

    def apply(self, commit: Commit, sequence: int) -> None:
        months = self._document_months(commit)
        # Partition (relative to its table) -> this commit's documents that live there:
        # rows stored for them go from every document table, even one they have no rows
        # in now (a re-emitted document that lost its line items loses them here too).
        replaced: dict[Path, set[str]] = defaultdict(set)
        for doc_id, (inbox, month) in months.items():
            replaced[self._relative(inbox, month)].add(doc_id)
        for table in commit.snapshots:
            rows = commit.batches.get(table, [])
            data = pa.Table.from_batches(rows, schema=self.schemas[table])
            self._replace(self.root / table, data, sorted((self.root / table).glob("*.parquet")))
        unwritten = [t for t in DOCUMENT_TABLES if t in self.schemas and t not in commit.batches]
        for table in [*commit.batches, *(unwritten if replaced else [])]:
            batches = commit.batches.get(table)
            if table in commit.snapshots:
                continue
            data = pa.Table.from_batches(batches or [], schema=self.schemas[table])
            parts = self._partitions(table, data, months)
            if table not in DOCUMENT_TABLES:
                for directory, part in parts.items():
                    self._write_partition(table, directory, part)
                continue
            empty = pa.Table.from_batches([], schema=self._stored_schema(table))
            for relative in replaced:
                parts.setdefault(self.root / table / relative, empty)
            for directory, part in parts.items():
                here = replaced.get(directory.relative_to(self.root / table), set())
                self._write_documents(table, directory, part, here)
        if commit.states or commit.batches or commit.snapshots:
            streams = dict(self.load_state().streams)
            streams.update(commit.states)
            self._write_state(streams, sequence)

    @staticmethod
    @functools.lru_cache(maxsize=4096)
    def _relative(inbox: str, month: str) -> Path:
        """A partition's folder below its table's (cached: `apply` asks for it once per
        document of every commit, and percent-encoding the values showed in profiles)."""
        return Path(hive_segment("inbox_id", inbox)) / hive_segment("month", month)

    def _stored_schema(self, table: str) -> pa.Schema:
        """The table's columns as its partitioned files hold them (no partition columns)."""
        schema = self.schemas[table]
        return pa.schema([f for f in schema if f.name not in PARTITION_COLUMNS])

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
            return {base: data} if data.num_rows else {}
        if table in DOCUMENT_TABLES:
            return self._document_partitions(table, data, months)
        if "date" in names:
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
            base / self._relative(i, m): stored.take(pa.array(rows))
            for (i, m), rows in groups.items()
        }

    def _document_partitions(
        self, table: str, data: pa.Table, months: dict[str, tuple[str, str]]
    ) -> dict[Path, pa.Table]:
        """A document table's rows by the partition of their document, vectorized: the
        child tables hold ~80 rows a document, too many for a Python loop per row."""
        key = data.column(DOCUMENT_TABLES[table])
        codes: dict[tuple[str, str], int] = {}
        per_document = [codes.setdefault(where, len(codes)) for where in months.values()]
        unknown = codes.setdefault(("unknown", "unknown"), len(codes))
        # Codes as Arrow scalars: pc with a Python int would make one by pa.scalar, whose
        # first call imports pandas (arrays.py).
        code_scalars = int64s(range(len(codes)))
        position = pc.index_in(key, value_set=strings(list(months)))
        row_codes = pc.fill_null(pc.take(int64s(per_document), position), code_scalars[unknown])
        stored = data.drop_columns([c for c in PARTITION_COLUMNS if c in data.column_names])
        out: dict[Path, pa.Table] = {}
        for (inbox, month), code in codes.items():
            part = stored.filter(pc.equal(row_codes, code_scalars[code]))
            if part.num_rows:
                out[self.root / table / self._relative(inbox, month)] = part
        return out

    def _write_partition(self, table: str, directory: Path, part: pa.Table) -> None:
        """A keyed table's partition is merged (new keys win, a key stored twice is kept
        once); any other table's rows are appended as a new file."""
        existing = sorted(directory.glob("*.parquet")) if directory.is_dir() else []
        if table_kind(table) is TableKind.KEYED and existing:
            merged = self._merge_keyed(existing, part, self.primary_keys[table])
            self._replace(directory, merged, existing)
        else:
            self._replace(directory, part, [])

    def _write_documents(
        self, table: str, directory: Path, part: pa.Table, replaced: set[str]
    ) -> None:
        """Store `part` in one document-table partition. Stored rows of documents that are
        re-emitted (in `replaced` or in `part`) go: the incoming rows are the document now.
        Without such rows, and no document stored twice, `part` is just a new file."""
        key = DOCUMENT_TABLES[table]
        incoming = unique_ids(part.column(key))  # deduplicated in Arrow: ~80 rows a document
        drop = self._index.stored_among(directory, key, replaced | set(incoming.to_pylist()))
        if drop or self._index.duplicated(directory, key):
            self._rewrite_documents(table, directory, part, drop)
        elif part.num_rows:
            final = self._replace(directory, part, [])
            if final is not None:
                self._index.written(directory, key, final, incoming)

    def _rewrite_documents(
        self, table: str, directory: Path, part: pa.Table, drop: set[str]
    ) -> None:
        """The partition as one file: its rows minus `drop`, plus `part`. A document more
        than one file holds (two exports once raced into the folder) keeps the rows of the
        newest of those files only: each file holds a whole copy of the document as one
        export read it, the newest copy is the latest read, and mixing rows of two copies
        could make a version that never existed. (A re-emitted document is in `drop`: only
        its incoming rows stay.)"""
        key = DOCUMENT_TABLES[table]
        stored = self._index.stored(directory, key)
        duplicated = set(self._index.duplicated(directory, key))
        owners = self._index.owners(directory, key, duplicated - drop)
        existing = self._index.files(directory, key)
        dropped = pc.is_in(stored, value_set=strings(sorted(drop)))
        # The chunks of the incoming column, not the column: chunked_array() converts a
        # chunked column with pa.array, which imports pandas (arrays.py).
        chunks = [stored.filter(pc.invert(dropped)), *part.column(key).chunks]
        kept = unique_ids(pa.chunked_array(chunks, stored.type))
        pieces = self._kept_rows(existing, key, drop, duplicated - drop, owners, part)
        final = self._replace(directory, pieces, existing)
        self._index.replaced(directory, existing)
        if final is not None:
            self._index.written(directory, key, final, kept)

    @staticmethod
    def _kept_rows(
        files: list[Path],
        key: str,
        drop: set[str],
        duplicated: set[str],
        owners: dict[str, Path],
        part: pa.Table,
    ) -> Iterator[pa.Table]:
        """The partition's rows, file by file, without the dropped documents and without a
        duplicated document's rows in any file but its newest; then the new rows."""
        for path in files:
            old = _read([path], part.schema)
            gone = drop | {d for d in duplicated if owners.get(d) != path}
            if gone:
                value_set = pa.array(sorted(gone), type=old.schema.field(key).type)
                old = old.filter(pc.invert(pc.is_in(old.column(key), value_set=value_set)))
            yield old
        yield part

    def _merge_keyed(self, files: list[Path], part: pa.Table, keys: tuple[str, ...]) -> pa.Table:
        """Stored rows whose key is not in `part`, one per key (the newest file's, should
        two files hold it), then `part`."""
        stored_keys = [k for k in keys if k in part.column_names]
        pieces = [_read([path], part.schema) for path in sorted(files, key=file_order)]
        old = pa.concat_tables(
            piece.append_column("_file_rank", pa.array([rank] * piece.num_rows, pa.int64()))
            for rank, piece in enumerate(pieces)
        )
        import duckdb  # only keyed tables need it (stats): documents-only runs never do

        con = duckdb.connect()
        con.register("old", old)
        con.register("new", part)
        quoted = [f'"{k}"' for k in stored_keys]
        match = " AND ".join(f"old.{k} IS NOT DISTINCT FROM new.{k}" for k in quoted)
        once = f"PARTITION BY {', '.join(quoted)} " if quoted else ""
        result = con.sql(
            f"SELECT * EXCLUDE (_file_rank) FROM old "
            f"WHERE NOT EXISTS (SELECT 1 FROM new WHERE {match or 'true'}) "
            f"QUALIFY row_number() OVER ({once}ORDER BY _file_rank DESC) = 1 "
            "UNION ALL SELECT * FROM new"
        )
        merged = arrow_table(result)
        con.close()
        return merged.cast(part.schema)

    def compact(self) -> None:
        """Merge partitions grown into many small files (one per checkpoint) into one;
        a document or key stored twice is kept once, as when a commit rewrites it."""
        for table in self.schemas:
            folders = {p.parent for p in (self.root / table).rglob("part-*.parquet")}
            for directory in sorted(folders):
                files = sorted(directory.glob("part-*.parquet"))
                if len(files) <= COMPACT_ABOVE_FILES:
                    continue
                if table in DOCUMENT_TABLES:
                    empty = pa.Table.from_batches([], schema=self._stored_schema(table))
                    self._rewrite_documents(table, directory, empty, set())
                elif table_kind(table) is TableKind.KEYED:
                    schema = pq.read_schema(files[0])
                    empty = pa.Table.from_batches([], schema=schema)
                    merged = self._merge_keyed(files, empty, self.primary_keys[table])
                    self._replace(directory, merged, files)
                else:
                    schema = pq.read_schema(files[0])
                    pieces = (_read([path], schema) for path in files)
                    self._replace(directory, pieces, files)
        self._index.clear()

    def close(self) -> None:
        """Release the folder's lock (closing the descriptor drops the `flock`)."""
        self._index.clear()
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None
