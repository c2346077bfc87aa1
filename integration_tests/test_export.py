"""`contractfit export` against the live emulator: DuckDB and Parquet hold exactly the truth."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest

from contractfit_emulator import Emulator

from .conftest import api_key_config

DOC_TABLES = ("documents", "document_versions", "fields", "line_items", "sections")
FAMILY = "documents,document_versions,document_fields,document_line_items"


def export_command(tmp: Path, config: dict[str, Any], *args: str) -> list[str]:
    """`contractfit export` with the config written to tmp/config.json."""
    (tmp / "config.json").write_text(json.dumps(config))
    config_path = str(tmp / "config.json")
    return [
        sys.executable,
        "-m",
        "source_contractfit.cli.main",
        "export",
        "--config",
        config_path,
        *args,
    ]


def export(
    tmp: Path, config: dict[str, Any], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    command = export_command(tmp, config, *args)
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def sinks(tmp: Path) -> list[str]:
    return ["--duckdb", str(tmp / "out.duckdb"), "--parquet", str(tmp / "parquet")]


def table_digest(con: duckdb.DuckDBPyConnection, source: str, order: str) -> tuple[int, str]:
    """Row count and an order-independent digest of every column but bookkeeping ones."""
    row = con.execute(
        f"SELECT count(*), md5(coalesce(string_agg(r, '|' ORDER BY r), '')) FROM "
        f"(SELECT CAST(t AS VARCHAR) AS r FROM (SELECT {order} FROM {source}) t)"
    ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def columns(con: duckdb.DuckDBPyConnection, table: str) -> str:
    names = [r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()]
    return ", ".join(f'"{n}"' for n in sorted(names))


def duckdb_digests(path: Path) -> dict[str, tuple[int, str]]:
    con = duckdb.connect(str(path), read_only=True)
    out = {t: table_digest(con, f'"{t}"', columns(con, t)) for t in DOC_TABLES}
    con.close()
    return out


def parquet_digests(duck: Path, folder: Path) -> dict[str, tuple[int, str]]:
    con = duckdb.connect(str(duck), read_only=True)
    out = {}
    for table in DOC_TABLES:
        source = f"read_parquet('{folder / table}/**/*.parquet', hive_partitioning = true)"
        out[table] = table_digest(con, source, columns(con, table))
    con.close()
    return out


def truth_check(emu: Emulator, duck: Path) -> None:
    """Every live document, every version and every field value, exactly."""
    documents = emu.control.documents()
    con = duckdb.connect(str(duck), read_only=True)
    ids = {r[0] for r in con.execute("SELECT id FROM documents").fetchall()}
    assert ids == {d["id"] for d in documents}
    versions = dict(
        con.execute("SELECT document_id, count(*) FROM document_versions GROUP BY 1").fetchall()
    )
    assert versions == {d["id"]: len(d["versions"]) for d in documents}
    stored = Counter(
        con.execute(
            "SELECT document_id, version_index, field_name, occurrence, coalesce(value, '<null>'), "
            "coalesce(gold, '<null>'), coalesce(CAST(correct AS VARCHAR), '<null>') FROM fields"
        ).fetchall()
    )
    expected: Counter[tuple[Any, ...]] = Counter()
    for document in documents:
        for index, version in enumerate(document["versions"]):
            for field, atoms in (version.get("annotations") or {}).items():
                if atoms == []:  # present but empty: one row at occurrence -1, values null
                    correct = "true" if version["is_evaluated"] else "<null>"
                    expected[(document["id"], index, field, -1, "<null>", "<null>", correct)] += 1
                for occurrence, atom in enumerate(atoms):
                    value = atom.get("value")
                    text = "<null>" if value is None else _text(value)
                    gold = atom.get("gold")
                    correct = atom.get("correct")
                    expected[
                        (
                            document["id"], index, field, occurrence, text,
                            "<null>" if gold is None else str(gold),
                            "<null>" if correct is None else str(correct).lower(),
                        )
                    ] += 1  # fmt: skip
    assert stored == expected
    con.close()


def _text(value: Any) -> str:
    from source_contractfit.export.normalize import value_text

    return str(value_text(value))


@pytest.fixture
def emu() -> Any:
    with Emulator(seed=13, inboxes=2, documents=500) as emulator:
        yield emulator


def test_export_equals_truth_in_duckdb_and_parquet_and_is_idempotent(
    emu: Emulator, tmp_path: Path
) -> None:
    config = api_key_config(emu.base_url, lookback_days=0)
    done = export(tmp_path, config, *sinks(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Exported" in done.stdout
    truth_check(emu, tmp_path / "out.duckdb")
    first = duckdb_digests(tmp_path / "out.duckdb")
    assert parquet_digests(tmp_path / "out.duckdb", tmp_path / "parquet") == first
    again = export(tmp_path, config, *sinks(tmp_path))
    assert again.returncode == 0, again.stderr[-3000:]
    assert duckdb_digests(tmp_path / "out.duckdb") == first
    assert parquet_digests(tmp_path / "out.duckdb", tmp_path / "parquet") == first
    con = duckdb.connect(str(tmp_path / "out.duckdb"), read_only=True)
    for table in ("stats_fields", "usage", "inboxes", "projects", "users"):
        assert con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] > 0, table  # type: ignore[index]
    con.close()


def test_incremental_export_after_late_reviews_leaves_exactly_the_truth(
    emu: Emulator, tmp_path: Path
) -> None:
    config = api_key_config(emu.base_url, lookback_days=0)
    assert export(tmp_path, config, *sinks(tmp_path), "--streams", FAMILY).returncode == 0
    time.sleep(1.1)
    emu.control.review(count=15)
    done = export(tmp_path, config, *sinks(tmp_path), "--streams", FAMILY)
    assert done.returncode == 0, done.stderr[-3000:]
    truth_check(emu, tmp_path / "out.duckdb")
    assert parquet_digests(tmp_path / "out.duckdb", tmp_path / "parquet") == duckdb_digests(
        tmp_path / "out.duckdb"
    )


def test_export_errors_are_one_clear_line(emu: Emulator, tmp_path: Path) -> None:
    no_sink = export(tmp_path, api_key_config(emu.base_url))
    assert no_sink.returncode == 2
    assert (
        no_sink.stderr.strip()
        == "contractfit export: Give at least one sink: --duckdb FILE and/or --parquet DIR."
    )
    bad = export(
        tmp_path,
        {"credentials": {"auth_type": "api_key", "api_key": "k"}, "page_size": 0},
        "--duckdb",
        str(tmp_path / "x.duckdb"),
    )
    assert bad.returncode == 2 and "'page_size' must be between 1 and 100" in bad.stderr
    assert "Traceback" not in bad.stderr
    wrong = export(
        tmp_path,
        {
            "base_url": emu.base_url,
            "credentials": {"auth_type": "api_key", "api_key": "cf_wrong_key_123456"},
        },
        "--duckdb",
        str(tmp_path / "y.duckdb"),
    )
    assert wrong.returncode == 2 and "rejected the credentials" in wrong.stderr
    assert "cf_wrong_key_123456" not in wrong.stderr + wrong.stdout
    unknown = export(
        tmp_path,
        api_key_config(emu.base_url),
        "--duckdb",
        str(tmp_path / "z.duckdb"),
        "--streams",
        "invoices",
    )
    assert unknown.returncode == 2 and "Unknown stream(s) invoices" in unknown.stderr


def test_export_runs_with_automatic_gc_off_and_collects_every_n_documents(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Automatic collections walk every page in flight (see read/gc_tuning.py); the export
    turns them off and runs one full collection per EXPORT_COLLECT_EVERY documents."""
    import gc
    from contextlib import redirect_stderr, redirect_stdout
    from io import StringIO

    from source_contractfit.export.exporter import run_export
    from source_contractfit.read import gc_tuning

    monkeypatch.setattr(gc_tuning, "EXPORT_COLLECT_EVERY", 200)
    (tmp_path / "config.json").write_text(json.dumps(api_key_config(emu.base_url)))
    generations: list[int] = []

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            generations.append(info["generation"])

    threshold = gc.get_threshold()
    gc.callbacks.append(callback)
    try:
        with redirect_stdout(StringIO()), redirect_stderr(StringIO()) as err:
            code = run_export(
                str(tmp_path / "config.json"), str(tmp_path / "out.duckdb"), None,
                ["documents"], False, True,
            )  # fmt: skip
    finally:
        gc.callbacks.remove(callback)
        gc.set_threshold(*threshold)
    assert code == 0, err.getvalue()
    assert gc.isenabled()
    # 500 documents: a full collection once 200 more are committed (commits come a page
    # or an inbox at a time, so one or two), and no automatic one.
    assert generations in ([2], [2, 2]), generations


def _commits(stdout: str) -> int:
    match = re.search(r"and ([\d,]+) commits?;", stdout)
    assert match, stdout
    return int(match.group(1).replace(",", ""))


def export_in_process(config: Path, target: Path, codes: tuple[int, ...] = (0,)) -> tuple[int, str]:
    """`contractfit export` of the documents family into the DuckDB file `target`, in this
    process (so that monkeypatches apply): its exit code, one of `codes`, and stdout."""
    from contextlib import redirect_stderr, redirect_stdout
    from io import StringIO

    from source_contractfit.export import exporter

    out = StringIO()
    with redirect_stdout(out), redirect_stderr(StringIO()) as err:
        code = exporter.run_export(str(config), str(target), None, ["documents"], False)
    assert code in codes, err.getvalue()
    return code, out.getvalue()


def test_checkpoints_are_committed_in_batches_of_rows_or_time(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every checkpoint's state is stored, but a commit (a file per table and partition, a
    transaction) waits until CHECKPOINT_COMMIT_ROWS rows or CHECKPOINT_COMMIT_SECONDS have
    gathered; the content and the final state are the same either way."""

    from source_contractfit.export import exporter

    config = tmp_path / "config.json"
    config.write_text(json.dumps(api_key_config(emu.base_url, checkpoint_interval=20)))

    def run_once(target: Path) -> int:
        return _commits(export_in_process(config, target)[1])

    batched = run_once(tmp_path / "batched.duckdb")
    monkeypatch.setattr(exporter, "CHECKPOINT_COMMIT_SECONDS", 0.0)
    each = run_once(tmp_path / "each.duckdb")
    # 500 documents, a checkpoint every 20: 25 or more, each committed; batched, the
    # ~40k rows stay under 100k, so the checkpoints ride to the unit's last commit.
    assert each >= 25 and batched <= 2, (each, batched)
    assert duckdb_digests(tmp_path / "batched.duckdb") == duckdb_digests(tmp_path / "each.duckdb")
    cursors = []
    for name in ("batched", "each"):
        with duckdb.connect(str(tmp_path / f"{name}.duckdb"), read_only=True) as con:
            ((blob,),) = con.execute("SELECT blob FROM _contractfit_state").fetchall()
        inboxes = json.loads(blob)["partitions"]  # the review clock differs between runs
        cursors.append({i: (s["cursor"], s["last_id_at_cursor"]) for i, s in inboxes.items()})
    assert cursors[0] == cursors[1] and len(cursors[0]) == 2


def test_commits_between_durable_ones_ride_in_one_duckdb_transaction(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit is durable (DuckDB COMMITs) every DURABLE_COMMIT_SECONDS and at a unit's
    end; the ones between stay in its transaction. Same content; and a stream that fails
    makes the checkpoints it reached durable there and then."""

    from source_contractfit.api.errors import TransientError
    from source_contractfit.export import exporter
    from source_contractfit.export.sinks import DuckDBSink
    from source_contractfit.read.events import Checkpoint

    config = tmp_path / "config.json"
    config.write_text(json.dumps(api_key_config(emu.base_url, checkpoint_interval=20)))
    applied: list[tuple[bool, dict[str, Any]]] = []
    real_apply = DuckDBSink.apply

    def spy(self: DuckDBSink, commit: Any, sequence: int) -> None:
        applied.append((commit.durable, dict(commit.states)))
        real_apply(self, commit, sequence)

    def run_once(target: Path) -> int:
        return export_in_process(config, target, codes=(0, 3))[0]

    assert run_once(tmp_path / "reference.duckdb") == 0
    monkeypatch.setattr(DuckDBSink, "apply", spy)
    monkeypatch.setattr(exporter, "CHECKPOINT_COMMIT_ROWS", 1)  # every checkpoint commits
    monkeypatch.setattr(exporter, "DURABLE_COMMIT_SECONDS", 3600.0)
    assert run_once(tmp_path / "staged.duckdb") == 0
    durable = [d for d, _ in applied]
    assert len(durable) >= 25 and durable.count(True) == 1 and durable[-1], durable
    assert duckdb_digests(tmp_path / "staged.duckdb") == duckdb_digests(
        tmp_path / "reference.duckdb"
    )

    applied.clear()
    real_read = exporter.read_unit

    def failing(*args: Any, **kwargs: Any) -> Any:
        checkpoints = 0
        for item in real_read(*args, **kwargs):
            yield item
            checkpoints += isinstance(item, Checkpoint)
            if checkpoints == 5:
                raise TransientError("the server went away")

    monkeypatch.setattr(exporter, "read_unit", failing)
    assert run_once(tmp_path / "failed.duckdb") == 3
    durable = [d for d, _ in applied]
    assert durable[:5] == [False] * 5 and durable[-1], durable  # made durable at the failure
    reached = applied[4][1]["documents"]
    with duckdb.connect(str(tmp_path / "failed.duckdb"), read_only=True) as con:
        ((blob,),) = con.execute("SELECT blob FROM _contractfit_state").fetchall()
        ((stored,),) = con.execute("SELECT count(*) FROM documents").fetchall()
    assert json.loads(blob) == reached and stored >= 5 * 20 - 20


def test_a_duckdb_transaction_holds_a_bounded_number_of_rows(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB keeps an open transaction's rows in memory, so the commits riding in one
    stay under DURABLE_COMMIT_ROWS rows, whatever the time bound says; same content."""

    from source_contractfit.export import exporter
    from source_contractfit.export.sinks import DuckDBSink

    config = tmp_path / "config.json"
    config.write_text(json.dumps(api_key_config(emu.base_url, checkpoint_interval=20)))
    applied: list[tuple[bool, int]] = []
    real_apply = DuckDBSink.apply

    def spy(self: DuckDBSink, commit: Any, sequence: int) -> None:
        applied.append((commit.durable, commit.rows()))
        real_apply(self, commit, sequence)

    export_in_process(config, tmp_path / "reference.duckdb")
    monkeypatch.setattr(DuckDBSink, "apply", spy)
    monkeypatch.setattr(exporter, "CHECKPOINT_COMMIT_ROWS", 1)  # every checkpoint commits
    monkeypatch.setattr(exporter, "DURABLE_COMMIT_SECONDS", 3600.0)
    monkeypatch.setattr(exporter, "DURABLE_COMMIT_ROWS", 8_000)
    export_in_process(config, tmp_path / "bounded.duckdb")
    transactions, rows = [], 0
    for durable, count in applied:
        rows += count
        if durable:
            transactions.append(rows)
            rows = 0
    # ~40k rows in 25+ commits of ~1,600: several transactions, none past the bound by
    # more than the commit that reached it.
    assert len(applied) >= 25 and len(transactions) >= 4 and rows == 0, applied
    assert max(transactions) < 8_000 + max(count for _, count in applied), transactions
    assert duckdb_digests(tmp_path / "bounded.duckdb") == duckdb_digests(
        tmp_path / "reference.duckdb"
    )


def test_buffered_rows_past_the_bound_are_committed_without_a_checkpoint(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no checkpoint due, the buffers are committed (data only) once they hold
    MAX_BUFFERED_ROWS rows, asked every BUFFER_CHECK_RECORDS records: no commit passes the
    bound by more than those records' rows; same content as one commit."""

    from source_contractfit.export import exporter
    from source_contractfit.export.sinks import DuckDBSink

    config = tmp_path / "config.json"
    config.write_text(json.dumps(api_key_config(emu.base_url, checkpoint_interval=100_000)))
    applied: list[tuple[int, int]] = []  # (rows, documents) of each commit
    real_apply = DuckDBSink.apply

    def spy(self: DuckDBSink, commit: Any, sequence: int) -> None:
        applied.append((commit.rows(), len(commit.document_ids)))
        real_apply(self, commit, sequence)

    export_in_process(config, tmp_path / "reference.duckdb")
    monkeypatch.setattr(DuckDBSink, "apply", spy)
    monkeypatch.setattr(exporter, "MAX_BUFFERED_ROWS", 4_000)
    export_in_process(config, tmp_path / "bounded.duckdb")
    documents = sum(count for _, count in applied)
    per_document = sum(rows for rows, _ in applied) / documents
    assert len(applied) >= 8, applied  # ~40k rows
    slack = 2 * exporter.BUFFER_CHECK_RECORDS * per_document
    assert max(rows for rows, _ in applied) < 4_000 + slack, applied
    assert duckdb_digests(tmp_path / "bounded.duckdb") == duckdb_digests(
        tmp_path / "reference.duckdb"
    )


def test_an_export_of_the_document_family_never_imports_pandas(
    emu: Emulator, tmp_path: Path
) -> None:
    """The first `pa.array` (or `pa.scalar`) over Python values imports pandas, 0.2 s of
    CPU an export does not need: its tables are built from buffers (normalize/native.py,
    export/arrays.py), and so are the sinks' own arrays (DuckDB's replaced ids, the
    Parquet partition codes and index probes, which see the files of earlier commits).

    pandas is made unimportable here, so the export must work without it on every
    version allowed. DuckDB before 2.0 (measured: 1.4.5, 1.5.0) looks for pandas when it
    binds a query's parameters and goes on without it; from 2.0 nothing looks at all."""
    config = api_key_config(emu.base_url, checkpoint_interval=20)
    (tmp_path / "config.json").write_text(json.dumps(config))
    probe = (
        "import runpy, sys\n"
        "looked = []\n"
        "class NoPandas:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'pandas':\n"
        "            looked.append(name)\n"
        "            raise ImportError('pandas is not installed here')\n"
        "sys.meta_path.insert(0, NoPandas())\n"
        "from source_contractfit.export import exporter\n"
        "exporter.CHECKPOINT_COMMIT_ROWS = 1  # a commit every 20 documents: files to probe\n"
        "sys.argv = ['contractfit', 'export', '--config', sys.argv[1], '--streams', 'documents',"
        " '--quiet', *sys.argv[2:]]\n"
        "try:\n"
        "    runpy.run_module('source_contractfit.cli.main', run_name='__main__')\n"
        "except SystemExit as stop:\n"
        "    assert not stop.code, stop.code\n"
        "print('PANDAS' if looked else 'NO PANDAS')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "config.json"), *sinks(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    if int(duckdb.__version__.split(".")[0]) >= 2:
        assert done.stdout.strip().splitlines()[-1] == "NO PANDAS", done.stdout
    with duckdb.connect(str(tmp_path / "out.duckdb"), read_only=True) as con:
        ((stored,),) = con.execute("SELECT count(*) FROM documents").fetchall()
    assert stored == 500


def test_sinks_that_disagree_agree_before_the_first_read(emu: Emulator, tmp_path: Path) -> None:
    """kill -9 between two sinks' commits, then a run killed after committing only
    metadata, left DuckDB and Parquet at one sequence with only DuckDB holding the
    documents state; the next run took it and Parquet never got the documents. Such
    sinks are now made to agree first: a state not every sink holds is read anew."""
    from source_contractfit.export.normalize import SCHEMA_VERSION, TABLES, primary_keys
    from source_contractfit.export.sinks import DuckDBSink, ParquetSink

    config = api_key_config(emu.base_url)
    duck, folder = tmp_path / "out.duckdb", tmp_path / "parquet"  # as sinks() names them
    done = export(tmp_path, config, "--duckdb", str(duck), "--streams", "documents")
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(duck), read_only=True) as con:
        ((sequence,),) = con.execute("SELECT max(sequence) FROM _contractfit_state").fetchall()
    # The Parquet sink as that crash left it: the same sequence, no documents state.
    parquet = ParquetSink(folder, TABLES, primary_keys(), SCHEMA_VERSION)
    parquet.replace_state({}, sequence)
    parquet.close()
    done = export(tmp_path, config, *sinks(tmp_path), "--streams", "documents")
    assert done.returncode == 0, done.stderr
    assert parquet_digests(duck, folder) == duckdb_digests(duck)
    with duckdb.connect(str(duck), read_only=True) as con:
        ((stored,),) = con.execute(
            f"SELECT count(*) FROM read_parquet('{folder}/documents/**/*.parquet')"
        ).fetchall()
    assert stored == 500
    states = [
        DuckDBSink(duck, TABLES, primary_keys(), SCHEMA_VERSION),
        ParquetSink(folder, TABLES, primary_keys(), SCHEMA_VERSION),
    ]
    loaded = [sink.load_state() for sink in states]
    for sink in states:
        sink.close()
    assert loaded[0].streams == loaded[1].streams and "documents" in loaded[0].streams
