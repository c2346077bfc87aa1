"""Both sinks on small hand-made tables: replacement rules, state, crash recovery."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from source_contractfit.export.normalize import SCHEMA_VERSION, TABLES, primary_keys
from source_contractfit.export.sinks import Commit, DuckDBSink, ParquetSink
from source_contractfit.export.sinks.duckdb_sink import MEMORY_LIMIT_MB, MIB, memory_needed_mb
from source_contractfit.export.sinks.parquet_sink import INTENT_FILE

TS = pa.timestamp("us", tz="UTC")
SCHEMAS = {
    "documents": pa.schema(
        [
            ("id", pa.string()),
            ("inbox_id", pa.string()),
            ("receive_time", TS),
            ("name", pa.string()),
        ]
    ),
    "fields": pa.schema(
        [
            ("document_id", pa.string()),
            ("inbox_id", pa.string()),
            ("field_name", pa.string()),
            ("value", pa.string()),
        ]
    ),
    "stats_fields": pa.schema(
        [
            ("inbox_id", pa.string()),
            ("date", pa.date32()),
            ("field_name", pa.string()),
            ("count", pa.int64()),
        ]
    ),
    "inboxes": pa.schema([("id", pa.string()), ("name", pa.string())]),
    "rejects": pa.schema([("stream", pa.string()), ("reason", pa.string())]),
}
KEYS = {
    "documents": ("id",),
    "fields": ("document_id", "field_name"),
    "stats_fields": ("inbox_id", "date", "field_name"),
    "inboxes": ("id",),
    "rejects": (),
}
MARCH = datetime(2024, 3, 1, tzinfo=timezone.utc)


def batch(table: str, rows: list[dict[str, Any]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(rows, schema=SCHEMAS[table])


def document_commit(docs: dict[str, list[str]], state: dict[str, Any]) -> Commit:
    """docs: id -> field names (one field row each)."""
    commit = Commit(states={"documents": state})
    commit.add(
        "documents",
        batch(
            "documents",
            [{"id": d, "inbox_id": "i1", "receive_time": MARCH, "name": f"n-{d}"} for d in docs],
        ),
    )
    commit.add(
        "fields",
        batch(
            "fields",
            [
                {"document_id": d, "inbox_id": "i1", "field_name": f, "value": "v"}
                for d, fs in docs.items()
                for f in fs
            ],
        ),
    )
    commit.document_ids = set(docs)
    return commit


def open_sink(kind: str, tmp: Path) -> Any:
    if kind == "duckdb":
        return DuckDBSink(tmp / "db.duckdb", SCHEMAS, KEYS, 1)
    return ParquetSink(tmp / "pq", SCHEMAS, KEYS, 1)


def rows(kind: str, tmp: Path, table: str, sink: Any) -> list[tuple[Any, ...]]:
    if kind == "duckdb":
        cols = ", ".join(SCHEMAS[table].names)
        return sorted(sink.execute(f'SELECT {cols} FROM "{table}"').fetchall())
    files = sorted((tmp / "pq" / table).rglob("*.parquet"))
    if not files:
        return []
    con = duckdb.connect()
    cols = ", ".join(SCHEMAS[table].names)
    found = con.execute(
        f"SELECT {cols} FROM read_parquet(?, hive_partitioning = true, union_by_name = true)",
        [[str(f) for f in files]],
    ).fetchall()
    return sorted(found)


@pytest.mark.parametrize("kind", ["duckdb", "parquet"])
def test_reemitted_document_replaces_all_its_rows(kind: str, tmp_path: Path) -> None:
    sink = open_sink(kind, tmp_path)
    sink.apply(document_commit({"a": ["x", "y", "z"], "b": ["x"]}, {"pos": 1}), 1)
    sink.apply(document_commit({"a": ["x"]}, {"pos": 2}), 2)
    assert [r[0] for r in rows(kind, tmp_path, "documents", sink)] == ["a", "b"]
    assert [(r[0], r[2]) for r in rows(kind, tmp_path, "fields", sink)] == [("a", "x"), ("b", "x")]
    state = sink.load_state()
    assert state.sequence == 2 and state.streams == {"documents": {"pos": 2}}


@pytest.mark.parametrize("kind", ["duckdb", "parquet"])
def test_keyed_rows_upsert_and_snapshots_replace(kind: str, tmp_path: Path) -> None:
    sink = open_sink(kind, tmp_path)
    day = date(2024, 3, 5)
    first = Commit(states={"stats_fields": {"c": 1}})
    first.add(
        "stats_fields",
        batch(
            "stats_fields",
            [{"inbox_id": "i1", "date": day, "field_name": f, "count": 1} for f in ("a", "b")],
        ),
    )
    first.add(
        "inboxes", batch("inboxes", [{"id": "i1", "name": "old"}, {"id": "i2", "name": "gone"}])
    )
    first.snapshots = {"inboxes"}
    sink.apply(first, 1)
    second = Commit(states={"stats_fields": {"c": 2}})
    second.add(
        "stats_fields",
        batch("stats_fields", [{"inbox_id": "i1", "date": day, "field_name": "a", "count": 7}]),
    )
    second.add("inboxes", batch("inboxes", [{"id": "i1", "name": "new"}]))
    second.snapshots = {"inboxes"}
    sink.apply(second, 2)
    assert [(r[2], r[3]) for r in rows(kind, tmp_path, "stats_fields", sink)] == [
        ("a", 7),
        ("b", 1),
    ]
    assert rows(kind, tmp_path, "inboxes", sink) == [("i1", "new")]


# What applying a commit with a batch of the wrong schema raises.
REFUSED = (KeyError, duckdb.Error, pa.ArrowInvalid)


def with_a_wrong_schema(commit: Commit) -> Commit:
    commit.add("stats_fields", pa.RecordBatch.from_pylist([{"nope": 1}]))
    return commit


def test_duckdb_commit_is_all_or_nothing(tmp_path: Path) -> None:
    sink = open_sink("duckdb", tmp_path)
    sink.apply(document_commit({"a": ["x"]}, {"pos": 1}), 1)
    broken = with_a_wrong_schema(document_commit({"b": ["x"]}, {"pos": 2}))
    with pytest.raises(REFUSED):
        sink.apply(broken, 2)
    assert [r[0] for r in rows("duckdb", tmp_path, "documents", sink)] == ["a"]
    assert sink.load_state().streams == {"documents": {"pos": 1}}


def durable_view(tmp: Path) -> tuple[list[str], dict[str, Any]]:
    """The documents and state another process finds in the file (a crash's view)."""
    script = (
        "import duckdb, json, sys\n"
        "con = duckdb.connect(sys.argv[1], read_only=True)\n"
        "ids = sorted(r[0] for r in con.execute('SELECT id FROM documents').fetchall())\n"
        "state = {s: json.loads(b) for s, b in "
        "con.execute('SELECT stream, blob FROM _contractfit_state').fetchall()}\n"
        "print(json.dumps([ids, state]))\n"
    )
    copy = tmp / "copy.duckdb"  # a copy: the sink's process holds the file's lock
    copy.write_bytes((tmp / "db.duckdb").read_bytes())
    wal = tmp / "db.duckdb.wal"
    if wal.exists():
        (tmp / "copy.duckdb.wal").write_bytes(wal.read_bytes())
    found = subprocess.run(
        [sys.executable, "-c", script, str(copy)], capture_output=True, text=True, check=True
    )
    copy.unlink()
    Path(f"{copy}.wal").unlink(missing_ok=True)
    ids, state = orjson.loads(found.stdout)
    return ids, state


def staged(docs: dict[str, list[str]], state: dict[str, Any]) -> Commit:
    commit = document_commit(docs, state)
    commit.durable = False
    return commit


def test_duckdb_holds_commits_not_durable_in_one_transaction_until_a_durable_one(
    tmp_path: Path,
) -> None:
    """The file holds the last durable commit, data and state, until the next durable
    one stores everything since: what a crash in between would find."""
    sink = open_sink("duckdb", tmp_path)
    sink.apply(document_commit({"a": ["x"]}, {"pos": 1}), 1)
    sink.apply(staged({"b": ["x"]}, {"pos": 2}), 2)
    sink.apply(staged({"c": ["x"]}, {"pos": 3}), 3)
    # The sink's own connection sees its transaction; the file does not have it yet.
    assert [r[0] for r in rows("duckdb", tmp_path, "documents", sink)] == ["a", "b", "c"]
    assert durable_view(tmp_path) == (["a"], {"documents": {"pos": 1}})
    sink.apply(document_commit({"d": ["x"]}, {"pos": 4}), 4)
    assert durable_view(tmp_path) == (["a", "b", "c", "d"], {"documents": {"pos": 4}})
    assert sink.load_state().sequence == 4
    sink.close()


def test_a_failed_commit_rolls_back_the_staged_ones_with_it(tmp_path: Path) -> None:
    sink = open_sink("duckdb", tmp_path)
    sink.apply(document_commit({"a": ["x"]}, {"pos": 1}), 1)
    sink.apply(staged({"b": ["x"]}, {"pos": 2}), 2)
    broken = with_a_wrong_schema(staged({"c": ["x"]}, {"pos": 3}))
    with pytest.raises(REFUSED):
        sink.apply(broken, 3)
    assert [r[0] for r in rows("duckdb", tmp_path, "documents", sink)] == ["a"]
    assert sink.load_state().streams == {"documents": {"pos": 1}}
    sink.apply(document_commit({"e": ["x"]}, {"pos": 5}), 5)  # a new transaction begins
    assert durable_view(tmp_path) == (["a", "e"], {"documents": {"pos": 5}})
    sink.close()


def test_closing_stores_the_staged_commits_which_are_whole(tmp_path: Path) -> None:
    sink = open_sink("duckdb", tmp_path)
    sink.apply(document_commit({"a": ["x"]}, {"pos": 1}), 1)
    sink.apply(staged({"b": ["x", "y"]}, {"pos": 2}), 2)
    sink.close()
    assert durable_view(tmp_path) == (["a", "b"], {"documents": {"pos": 2}})


def test_a_commit_lifting_the_memory_cap_is_durable_at_once(tmp_path: Path) -> None:
    """The cap is lowered again after the call, so its large value is committed within."""
    sink = open_sink("duckdb", tmp_path)
    big = staged({"a": ["x"]}, {"pos": 1})
    big.add(
        "fields",
        batch(
            "fields",
            [{"document_id": "a", "inbox_id": "i1", "field_name": "big", "value": "v" * (2 * MIB)}],
        ),
    )
    sink.apply(big, 1)
    assert durable_view(tmp_path) == (["a"], {"documents": {"pos": 1}})
    sink.close()


def test_duckdb_sink_stores_data_and_state_only(tmp_path: Path) -> None:
    """Even holding every table the views read: the analytics layer installs itself."""
    sink = DuckDBSink(tmp_path / "db.duckdb", TABLES, primary_keys(), SCHEMA_VERSION)
    tables = {t for (t,) in sink.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert tables == {*TABLES, "_contractfit_state", "_contractfit_meta"}
    assert sink.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone() == (0,)
    macros = (
        "SELECT count(*) FROM duckdb_functions() WHERE NOT internal AND function_type LIKE '%macro'"
    )
    assert sink.execute(macros).fetchone() == (0,)
    sink.close()


def test_parquet_layout_is_hive_partitioned_zstd(tmp_path: Path) -> None:
    sink = open_sink("parquet", tmp_path)
    sink.apply(document_commit({"a": ["x"]}, {}), 1)
    (path,) = list((tmp_path / "pq" / "documents").rglob("*.parquet"))
    assert path.parent.name == "month=2024-03" and path.parent.parent.name == "inbox_id=i1"
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
    assert not list((tmp_path / "pq").rglob(".tmp-*"))


def test_parquet_recovery_rolls_forward_and_back(tmp_path: Path) -> None:
    sink = open_sink("parquet", tmp_path)
    sink.apply(document_commit({"a": ["x"]}, {}), 1)
    folder = next((tmp_path / "pq" / "documents").rglob("*.parquet")).parent
    old = next(folder.glob("*.parquet"))
    new = folder / "part-new.parquet"
    pq.write_table(pq.read_table(old, partitioning=None), new)
    sink.close()  # one writer per folder: the crashed run's sink is gone
    # Crash after the rename, before the old file was deleted: roll forward.
    (tmp_path / "pq" / INTENT_FILE).write_bytes(
        orjson.dumps({"temp": str(folder / ".tmp-x"), "new": str(new), "old": [str(old)]})
    )
    ParquetSink(tmp_path / "pq", SCHEMAS, KEYS, 1).close()
    assert sorted(p.name for p in folder.glob("*.parquet")) == ["part-new.parquet"]
    # Crash before the rename: the temp file goes, the old file stays.
    temp = folder / ".tmp-part-y.parquet"
    temp.write_bytes(b"partial")
    (tmp_path / "pq" / INTENT_FILE).write_bytes(
        orjson.dumps({"temp": str(temp), "new": str(folder / "part-y.parquet"), "old": [str(new)]})
    )
    ParquetSink(tmp_path / "pq", SCHEMAS, KEYS, 1).close()
    assert not temp.exists() and new.exists()
    assert not (tmp_path / "pq" / INTENT_FILE).exists()


def test_only_a_commit_holding_a_large_value_lifts_the_duckdb_memory_cap() -> None:
    def commit_of(text: str) -> Commit:
        commit = Commit()
        commit.add("documents", pa.RecordBatch.from_pydict({"original_filename": [text, "a"]}))
        return commit

    assert memory_needed_mb(Commit()) == MEMORY_LIMIT_MB
    assert memory_needed_mb(commit_of("x" * 1000)) == MEMORY_LIMIT_MB
    assert memory_needed_mb(commit_of("x" * (50 * 1024 * 1024))) == MEMORY_LIMIT_MB + 4 * 50


def test_longest_value_reads_the_offsets_of_sliced_and_null_holding_columns() -> None:
    from source_contractfit.export.sinks.duckdb_sink import longest_value

    column = pa.array(["a", None, "x" * 70, "", "bcd", None], pa.string())
    assert longest_value(column) == 70
    assert longest_value(column.slice(3)) == 3
    assert longest_value(column.slice(1, 1)) == 0
    assert longest_value(column.slice(6)) == 0
    assert longest_value(pa.array([b"\x00" * 9], pa.binary())) == 9


def test_the_parquet_partition_index_keeps_ids_in_arrow_not_python_objects(
    tmp_path: Path,
) -> None:
    """The index holds every document id of every document table for the whole run; as
    Python strings in sets and counters it grew a 100k export's RSS by ~100 MB."""
    import tracemalloc
    import uuid

    from source_contractfit.export.sinks.parquet_index import PartitionIndex

    index = PartitionIndex()
    folder = tmp_path / "inbox_id=i1" / "month=2026-01"  # not on disk: nothing to load
    ids = [str(uuid.UUID(int=i)) for i in range(50_000)]
    files = [pa.array(ids[k : k + 5_000], pa.string()) for k in range(0, 50_000, 5_000)]
    tracemalloc.start()
    try:
        for number, held in enumerate(files):
            path = tmp_path / f"part-{number}.parquet"
            path.touch()
            index.written(folder, "document_id", path, held)
        python_bytes = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert python_bytes < 200_000, python_bytes  # was ~9 MB (~180 bytes an id)
    assert index.stored_among(folder, "document_id", {ids[7], "absent", None}) == {ids[7]}
    assert index.duplicated(folder, "document_id") == set()
    again = tmp_path / "part-again.parquet"
    again.touch()
    index.written(folder, "document_id", again, pa.array([ids[3], ids[49_999]]))
    assert index.duplicated(folder, "document_id") == {ids[3], ids[49_999]}
    assert index.owners(folder, "document_id", {ids[3], ids[10]}) == {
        ids[3]: again,
        ids[10]: tmp_path / "part-0.parquet",
    }
    index.replaced(folder, [again])
    assert index.duplicated(folder, "document_id") == set()


def test_the_partition_index_loads_foreign_files_with_binary_and_duplicated_keys(
    tmp_path: Path,
) -> None:
    """A file left by another tool may hold a binary key, even one that is not UTF-8: it
    matches no document id instead of failing the load; ids two files hold are found in
    the one pass over the files on disk."""
    from source_contractfit.export.sinks.parquet_index import PartitionIndex

    folder = tmp_path / "inbox_id=i1" / "month=2026-01"
    folder.mkdir(parents=True)
    binary = pa.array([b"a", b"\xff", None], pa.binary())
    pq.write_table(pa.table({"document_id": binary}), folder / "part-1.parquet")
    pq.write_table(pa.table({"document_id": pa.array(["a", "b"])}), folder / "part-2.parquet")
    index = PartitionIndex()
    assert index.stored_among(folder, "document_id", {"a", "b", "c"}) == {"a", "b"}
    assert index.duplicated(folder, "document_id") == {"a"}


def test_duckdb_stores_commits_as_small_row_groups_written_beside_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit's rows go to the file as row groups of ROW_GROUP_ROWS (written at once,
    compressed: DuckDB's default of 122,880 sent an export's ~20k-row appends through the
    write-ahead log and compressed them again at each checkpoint); spilled pages, if any,
    go beside the file, never into the working directory; one DuckDB thread."""
    from source_contractfit.export.sinks.duckdb_sink import ROW_GROUP_ROWS

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "out" / "it's.duckdb"
    path.parent.mkdir()
    sink = DuckDBSink(path, SCHEMAS, KEYS, 1)
    settings = sink.execute(
        "SELECT current_setting('temp_directory'), current_setting('threads')"
    ).fetchone()
    assert settings == (f"{path}.tmp", 1)
    docs = {f"d{i:06}": ["a", "b"] for i in range(3 * ROW_GROUP_ROWS // 2)}
    sink.apply(document_commit(docs, {"at": 1}), 1)
    sink.close()
    con = duckdb.connect(str(path), read_only=True)
    groups = con.execute(
        "SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('fields')"
    ).fetchone()
    assert groups == (3,)  # 49,152 rows
    assert con.execute("SELECT count(*) FROM fields").fetchone() == (2 * len(docs),)
    con.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_parquet_compacts_a_partition_once_it_holds_more_than_the_bound(tmp_path: Path) -> None:
    """Each commit adds a file to the partitions it touches; at the end of a run only a
    partition holding more than COMPACT_ABOVE_FILES files is merged into one, and merging
    keeps every row."""
    from source_contractfit.export.sinks.parquet_sink import COMPACT_ABOVE_FILES

    sink = open_sink("parquet", tmp_path)
    for n in range(COMPACT_ABOVE_FILES):
        sink.apply(document_commit({f"d{n:03}": ["x"]}, {"at": n}), n + 1)
    (folder,) = {p.parent for p in (tmp_path / "pq" / "fields").rglob("*.parquet")}
    sink.compact()
    assert len(list(folder.glob("*.parquet"))) == COMPACT_ABOVE_FILES  # at the bound: kept
    sink.apply(document_commit({"last": ["x", "y"]}, {"at": "last"}), COMPACT_ABOVE_FILES + 1)
    sink.compact()
    assert len(list(folder.glob("*.parquet"))) == 1
    found = rows("parquet", tmp_path, "fields", sink)
    assert len(found) == COMPACT_ABOVE_FILES + 2
    assert {r[0] for r in found} == {f"d{n:03}" for n in range(COMPACT_ABOVE_FILES)} | {"last"}
    sink.close()
