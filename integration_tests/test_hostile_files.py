"""The Parquet sink against hostile input: real files on disk, read back by DuckDB and
pyarrow; refusals through the real `contractfit export` (exit 2, one line)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from contractfit_emulator import Emulator
from source_contractfit.api.errors import ConfigError, ResponseFormatError
from source_contractfit.export.sinks import Commit, ParquetSink
from source_contractfit.export.sinks.parquet_files import (
    INTENT_FILE,
    LOCK_FILE,
    STATE_FILE,
    Intent,
    intent_body,
)

from .conftest import api_key_config

TS = pa.timestamp("us", tz="UTC")
SCHEMAS = {
    "documents": pa.schema(
        [("id", pa.string()), ("inbox_id", pa.string()), ("receive_time", TS),
         ("name", pa.string())]
    ),
    "fields": pa.schema(
        [("document_id", pa.string()), ("inbox_id", pa.string()), ("field_name", pa.string())]
    ),
    "stats_fields": pa.schema(
        [("inbox_id", pa.string()), ("date", pa.date32()), ("field_name", pa.string()),
         ("count", pa.int64())]
    ),
}  # fmt: skip
KEYS = {
    "documents": ("id",),
    "fields": ("document_id", "field_name"),
    "stats_fields": ("inbox_id", "date", "field_name"),
}
MARCH = datetime(2024, 3, 1, tzinfo=timezone.utc)
DAY = date(2024, 3, 5)
NASTY = [
    "../../../../escaped/doc", "x=y", "a/b", "%2F", "a b", "ünï", "..", ".", "a\\b",
    "line\nbreak", "a%b", "tab\tand\x01control", "?#*:'\"",
]  # fmt: skip


def documents(docs: dict[str, tuple[str, list[str]]], name: str = "n", stat: str = "f") -> Commit:
    """docs: id -> (inbox, field names); plus one stats row per inbox (`stat`: its key)."""
    commit = Commit(states={"documents": {"name": name}})
    rows = [
        {"id": d, "inbox_id": i, "receive_time": MARCH, "name": name} for d, (i, _) in docs.items()
    ]
    commit.add("documents", pa.RecordBatch.from_pylist(rows, schema=SCHEMAS["documents"]))
    fields = [
        {"document_id": d, "inbox_id": i, "field_name": f}
        for d, (i, fs) in docs.items()
        for f in fs
    ]
    commit.add("fields", pa.RecordBatch.from_pylist(fields, schema=SCHEMAS["fields"]))
    inboxes = [i for i, _ in docs.values()]
    stats = [
        {"inbox_id": i, "date": DAY, "field_name": stat, "count": inboxes.count(i)}
        for i in sorted(set(inboxes))
    ]
    commit.add("stats_fields", pa.RecordBatch.from_pylist(stats, schema=SCHEMAS["stats_fields"]))
    commit.document_ids = set(docs)
    return commit


def open_sink(root: Path) -> ParquetSink:
    return ParquetSink(root, SCHEMAS, KEYS, 1)


def duck_rows(root: Path, table: str, columns: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    found = con.execute(
        f"SELECT {columns} FROM read_parquet(?, hive_partitioning = true, union_by_name = true)",
        [str(root / table / "**" / "*.parquet")],
    ).fetchall()
    con.close()
    return sorted(found)


def arrow_rows(root: Path, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    found = ds.dataset(root / table, partitioning="hive").to_table(columns=columns)
    return sorted(zip(*(found.column(c).to_pylist() for c in columns), strict=True))


def files_under(path: Path) -> set[Path]:
    return {p for p in path.rglob("*") if p.is_file()}


# -- 1. partition values: encoded, read back as they were, never outside the folder ----------


def test_hostile_partition_values_read_back_exactly_and_stay_inside(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b" / "out"
    docs = {f"d{n}": (value, ["f1", "f2"]) for n, value in enumerate(NASTY)}
    sink = open_sink(root)
    sink.apply(documents(docs), 1)
    # Re-emitted: the stored copies are found under their encoded paths and replaced.
    sink.apply(documents(docs, name="again"), 2)
    sink.close()
    assert files_under(tmp_path) <= files_under(root)
    assert not list(tmp_path.rglob("escaped"))
    expected = sorted((d, inbox, "again") for d, (inbox, _) in docs.items())
    assert duck_rows(root, "documents", "id, inbox_id, name") == expected
    assert arrow_rows(root, "documents", ["id", "inbox_id", "name"]) == expected
    fields = sorted((d, inbox, f) for d, (inbox, fs) in docs.items() for f in fs)
    assert duck_rows(root, "fields", "document_id, inbox_id, field_name") == fields
    assert arrow_rows(root, "fields", ["document_id", "inbox_id", "field_name"]) == fields
    stats = sorted((inbox, "2024-03", 1) for inbox in NASTY)
    assert duck_rows(root, "stats_fields", "inbox_id, month, count") == stats
    assert arrow_rows(root, "stats_fields", ["inbox_id", "month", "count"]) == stats


def test_a_partition_value_too_long_for_a_folder_name_is_one_clear_error(tmp_path: Path) -> None:
    sink = open_sink(tmp_path / "out")
    with pytest.raises(ResponseFormatError, match="cannot be a Parquet partition folder"):
        sink.apply(documents({"d1": ("é" * 200, ["total"])}), 1)
    sink.close()
    assert not list((tmp_path / "out").rglob("*.parquet"))


def test_a_partition_folder_linked_outside_is_refused(tmp_path: Path) -> None:
    """Every path the sink writes is checked to resolve inside its folder first."""
    root, outside = tmp_path / "out", tmp_path / "elsewhere"
    outside.mkdir()
    (root / "documents").mkdir(parents=True)
    (root / "documents" / "inbox_id=i1").symlink_to(outside, target_is_directory=True)
    sink = open_sink(root)
    with pytest.raises(ConfigError, match="outside the Parquet folder"):
        sink.apply(documents({"d": ("i1", ["f"])}), 1)
    sink.close()
    assert list(outside.iterdir()) == []


# -- 2. intent and state files: validated, confined to the folder --------------------------


def one_document(root: Path) -> Path:
    """A folder holding one committed document; returns its documents file."""
    sink = open_sink(root)
    sink.apply(documents({"d": ("i1", ["f"])}), 1)
    sink.close()
    (path,) = (root / "documents").rglob("*.parquet")
    return path


def plan(old: Any, temp: Any = ".tmp-x", new: Any = "n.parquet") -> bytes:
    return orjson.dumps({"temp": temp, "new": new, "old": old})


BAD_INTENTS = {
    "empty": b"",
    "not JSON": b"{oops",
    "a list": b"[]",
    "temp not a string": plan([], temp=1),
    "old not a list": plan("o.parquet"),
    "old holds a number": plan([3]),
    "a relative escape": plan(["../v.parquet"]),
    "the state file as old": plan([STATE_FILE]),
}
BAD_STATES = {
    "empty": b"",
    "not JSON": b"nope",
    "a list": b"[1]",
    "sequence a string": b'{"sequence": "3", "streams": {}}',
    "sequence a bool": b'{"sequence": true}',
    "streams a list": b'{"sequence": 1, "streams": []}',
}


@pytest.mark.parametrize("content", BAD_INTENTS.values(), ids=BAD_INTENTS.keys())
def test_a_malformed_intent_file_is_a_config_error(content: bytes, tmp_path: Path) -> None:
    root = tmp_path / "out"
    stored = one_document(root)
    (tmp_path / "v.parquet").write_bytes(b"victim")
    (root / "n.parquet").write_bytes(b"present")
    (root / INTENT_FILE).write_bytes(content)
    with pytest.raises(ConfigError, match="Parquet intent file .* is unusable: .*Deleting it"):
        open_sink(root)
    assert stored.exists() and (tmp_path / "v.parquet").exists() and (root / STATE_FILE).exists()
    (root / INTENT_FILE).unlink()  # the recovery the message offers
    open_sink(root).close()


@pytest.mark.parametrize("content", BAD_STATES.values(), ids=BAD_STATES.keys())
def test_a_malformed_state_file_is_a_config_error(content: bytes, tmp_path: Path) -> None:
    root = tmp_path / "out"
    one_document(root)
    (root / STATE_FILE).write_bytes(content)
    sink = open_sink(root)
    with pytest.raises(ConfigError, match="Parquet state file .* unusable: .*--full-refresh"):
        sink.load_state()
    sink.reset(set(SCHEMAS))  # what --full-refresh does first
    assert sink.load_state().sequence == 0
    sink.close()


def test_new_intent_files_are_relative_and_survive_a_moved_folder(tmp_path: Path) -> None:
    root = tmp_path / "out"
    old = one_document(root)
    new = old.with_name("part-new.parquet")
    shutil.copy(old, new)
    body = intent_body(root, Intent(new.with_name(".tmp-part-new.parquet"), new, [old]))
    assert not any(Path(p).is_absolute() for p in [*orjson.loads(body)["old"]])
    (root / INTENT_FILE).write_bytes(body)
    moved = tmp_path / "moved"
    root.rename(moved)
    open_sink(moved).close()  # rolled forward: the new file stays, the old one goes
    assert [p.name for p in (moved / "documents").rglob("*.parquet")] == ["part-new.parquet"]
    assert not (moved / INTENT_FILE).exists()


# -- 3. one writer per folder; duplicates left by an old race are repaired ------------------


def test_a_second_sink_on_the_folder_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    first = open_sink(tmp_path / "out")
    with pytest.raises(ConfigError, match=r"Another export is writing to .* \(lock held\)"):
        open_sink(tmp_path / "out")
    first.close()
    open_sink(tmp_path / "out").close()


def age(path: Path, seconds: int) -> None:
    """Set a file's modification time `seconds` in the past: which copy is newest."""
    when = time.time() - seconds
    os.utime(path, (when, when))


def test_a_touched_partition_keeps_one_copy_of_a_document_stored_twice(tmp_path: Path) -> None:
    """As two racing exports left it: document `a` in two files of one partition, in the
    documents and the fields table, and one stats key in two files."""
    root = tmp_path / "out"
    sink = open_sink(root)
    sink.apply(documents({"a": ("i1", ["old1", "old2"]), "b": ("i1", ["f"])}), 1)
    sink.close()
    for table in ("documents", "fields", "stats_fields"):
        (path,) = (root / table).rglob("*.parquet")
        age(path, 60)
    racer = open_sink(tmp_path / "racer")
    racer.apply(documents({"a": ("i1", ["new"])}, name="newer"), 1)
    racer.close()
    for table in ("documents", "fields", "stats_fields"):
        (copy,) = (tmp_path / "racer" / table).rglob("*.parquet")
        target = root / copy.relative_to(tmp_path / "racer")
        shutil.copy2(copy, target)
    assert duck_rows(root, "documents", "id")[:2] == [("a",), ("a",)]
    sink = open_sink(root)
    sink.apply(documents({"c": ("i1", ["f"])}, name="c", stat="g"), 2)  # not a, b nor f
    sink.close()
    assert duck_rows(root, "documents", "id, name") == [("a", "newer"), ("b", "n"), ("c", "c")]
    assert duck_rows(root, "fields", "document_id, field_name") == [
        ("a", "new"), ("b", "f"), ("c", "f")
    ]  # fmt: skip
    assert duck_rows(root, "stats_fields", "inbox_id, field_name, count") == [
        ("i1", "f", 1), ("i1", "g", 1)
    ]  # fmt: skip


def test_a_reemitted_document_without_child_rows_loses_its_old_ones(tmp_path: Path) -> None:
    sink = open_sink(tmp_path / "out")
    sink.apply(documents({"a": ("i1", ["x", "y"]), "b": ("i1", ["x"])}), 1)
    sink.apply(documents({"a": ("i1", [])}, name="again"), 2)
    sink.close()
    assert duck_rows(tmp_path / "out", "fields", "document_id, field_name") == [("b", "x")]


# -- through the real CLI -------------------------------------------------------------------


@pytest.fixture(scope="module")
def tenant() -> Iterator[Emulator]:
    with Emulator(seed=21, inboxes=1, documents=40) as emu:
        yield emu


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "source_contractfit.cli.main", *args]


def export(
    tmp: Path, emu: Emulator, parquet: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    config = tmp / "config.json"
    config.write_text(json.dumps(api_key_config(emu.base_url)))
    command = cli("export", "--config", str(config), "--parquet", str(parquet), "--quiet", *extra)
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def assert_one_line(result: subprocess.CompletedProcess[str], starts: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(starts), result.stderr


def test_cli_refuses_an_intent_file_pointing_outside(tenant: Emulator, tmp_path: Path) -> None:
    root = tmp_path / "out"
    stored = one_document(root)
    victim = tmp_path / "victim.parquet"
    victim.write_bytes(b"not ours")
    new = stored.with_name("part-new.parquet")
    shutil.copy(stored, new)
    plan = {"temp": str(stored.with_name(".tmp-x")), "new": str(new), "old": [str(victim)]}
    (root / INTENT_FILE).write_bytes(orjson.dumps(plan))
    result = export(tmp_path, tenant, root, "--streams", "documents")
    assert_one_line(result, f"contractfit export: Parquet intent file {root / INTENT_FILE} ")
    assert "outside the folder and is refused" in result.stderr
    assert victim.read_bytes() == b"not ours" and stored.exists()


def test_cli_names_a_broken_state_file(tenant: Emulator, tmp_path: Path) -> None:
    root = tmp_path / "out"
    one_document(root)
    (root / STATE_FILE).write_bytes(b"[]")
    result = export(tmp_path, tenant, root, "--streams", "documents")
    assert_one_line(result, f"contractfit export: Parquet state file {root / STATE_FILE} ")
    assert "--full-refresh" in result.stderr
    assert (
        export(tmp_path, tenant, root, "--streams", "documents", "--full-refresh").returncode == 0
    )


def test_cli_second_export_into_a_busy_folder_is_refused(tenant: Emulator, tmp_path: Path) -> None:
    """A real first export, slowed down by the emulator, holds the lock; a second one
    started meanwhile is exit 2 and touches nothing; the first ends well, no row twice."""
    root = tmp_path / "out"
    tenant.control.faults(1.0, kinds=["slow"], slow_seconds=0.8)
    try:
        # Pages of 5: the first export makes 8 slowed requests after it took the lock.
        config = tmp_path / "slow-config.json"
        config.write_text(json.dumps(api_key_config(tenant.base_url, page_size=5)))
        first = subprocess.Popen(
            cli("export", "--config", str(config), "--parquet", str(root), "--quiet",
                "--streams", "documents"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not (root / LOCK_FILE).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        second = export(tmp_path, tenant, root, "--streams", "documents")
        still_running = first.poll() is None
        _, first_err = first.communicate(timeout=300)
    finally:
        tenant.control.faults_off()
    assert still_running, "the first export ended before the second started; slow it more"
    assert first.returncode == 0, first_err
    assert_one_line(second, f"contractfit export: Another export is writing to {root} (lock held)")
    ids = [row[0] for row in duck_rows(root, "documents", "id")]
    assert len(ids) == len(set(ids)) == len(tenant.control.documents())
