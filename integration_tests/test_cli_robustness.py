"""Small inputs and hostile surroundings for the commands: one line, the right exit code,
never a traceback (issue 14).

Each case runs the real command as a subprocess: stdout closed by its reader (`| head`),
an HTML report into a missing folder, a directory given as the DuckDB file, a taken port,
a Parquet folder that is a file or not writable, and SIGINT in the middle of an export.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from contractfit_emulator import Emulator

from .conftest import api_key_config

ROOT = Path(__file__).resolve().parents[1]
INTERRUPTED = "contractfit export: interrupted; the last committed state is kept."


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "source_contractfit.cli.main", *args]


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=timeout)


def child_env() -> dict[str, str]:
    # Unbuffered, as a terminal user often has it: each print is a write of its own.
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def tenant() -> Iterator[Emulator]:
    """Big enough that an export lasts seconds: SIGINT lands at several points of it."""
    with Emulator(seed=14, inboxes=2, documents=3000) as emu:
        yield emu


def write_config(tmp: Path, emu: Emulator) -> Path:
    path = tmp / "config.json"
    path.write_text(json.dumps(api_key_config(emu.base_url)))
    return path


def document_ids(duck: Path) -> set[str]:
    con = duckdb.connect(str(duck), read_only=True)
    ids = {row[0] for row in con.execute("SELECT id FROM documents").fetchall()}
    con.close()
    return ids


def truth(emu: Emulator) -> set[str]:
    return {d["id"] for d in emu.control.documents()}


@pytest.fixture(scope="module")
def exported(tenant: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("exported")
    config = write_config(tmp, tenant)
    result = run("export", "--config", str(config), "--duckdb", str(tmp / "out.duckdb"))
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp / "out.duckdb"


# -- stdout closed by its reader -------------------------------------------------------------


def closed_pipe_run(args: list[str], first_line: str | None, timeout: float) -> tuple[int, str]:
    """Run a command whose stdout reader goes away: after reading `first_line` (which must
    be what it reads), or at once when None. Returns (exit code, stderr)."""
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env()
    )
    assert proc.stdout is not None and proc.stderr is not None
    if first_line is not None:
        assert proc.stdout.readline() == first_line
    proc.stdout.close()
    stderr = proc.stderr.read()
    return proc.wait(timeout=timeout), stderr


def test_sql_into_a_pipe_closed_after_one_line_ends_quietly(exported: Path) -> None:
    """`contractfit sql … | head -1`: far more rows than a pipe buffer holds."""
    query = "SELECT range AS n, 'row ' || range AS label FROM range(300000)"
    args = command("sql", "--duckdb", str(exported), "--format", "csv", query)
    code, stderr = closed_pipe_run(args, "n,label\n", timeout=120)
    assert code == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
    assert stderr == ""


def test_report_into_a_closed_pipe_still_writes_the_page(exported: Path, tmp_path: Path) -> None:
    page = tmp_path / "r.html"
    # The reader is gone before the first line (`| head -0`, `| true`).
    args = command("report", "--duckdb", str(exported), "--html", str(page))
    code, stderr = closed_pipe_run(args, None, timeout=120)
    assert code == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
    assert page.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")


def test_export_into_a_closed_pipe_commits_everything(tenant: Emulator, tmp_path: Path) -> None:
    """The summary is printed after the last commit: a reader that went away (`| head`)
    cuts it short and changes nothing else; the exit code is the export's own (0)."""
    config = write_config(tmp_path, tenant)
    duck = tmp_path / "out.duckdb"
    args = command("export", "--config", str(config), "--duckdb", str(duck))
    code, stderr = closed_pipe_run(args, None, timeout=300)
    assert code == 0, stderr[-3000:]
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr[-3000:]
    assert document_ids(duck) == truth(tenant)


# -- paths that are not what they should be ----------------------------------------------------


def test_report_html_into_a_missing_folder_is_one_line(exported: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent" / "r.html"
    result = run("report", "--duckdb", str(exported), "--html", str(missing))
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"contractfit report: cannot write the HTML report {missing}: "
        f"its directory {missing.parent} does not exist.\n"
    )
    assert not missing.parent.exists()


def test_report_html_onto_a_directory_is_one_line(exported: Path, tmp_path: Path) -> None:
    result = run("report", "--duckdb", str(exported), "--html", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"contractfit report: cannot write the HTML report {tmp_path}: "
        f"{tmp_path} is a directory, not a file.\n"
    )


@pytest.mark.parametrize("subcommand", [("report",), ("sql", "SELECT 1")])
def test_a_directory_given_as_the_duckdb_file(subcommand: tuple[str, ...], tmp_path: Path) -> None:
    name, *rest = subcommand
    result = run(name, "--duckdb", str(tmp_path), *rest)
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"contractfit {name}: {tmp_path} is a directory, not a DuckDB file.\n"


def test_emulator_on_a_taken_port_is_one_line() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "contractfit_emulator.cli", "--port", str(port),
             "--documents", "5"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr == (
        f"contractfit-emulator: port {port} on 127.0.0.1 is in use; pick another --port, "
        "or --port 0 for a free one.\n"
    )


def test_parquet_pointing_at_a_file(tenant: Emulator, tmp_path: Path) -> None:
    config = write_config(tmp_path, tenant)
    target = tmp_path / "a-file"
    target.write_text("not a folder")
    for parquet in (target, target / "sub"):
        result = run("export", "--config", str(config), "--parquet", str(parquet), "--quiet")
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr
        assert result.stderr.startswith(f"contractfit export: --parquet {parquet} ")
        assert result.stderr.count("\n") == 1
    assert (
        "is a file, not a directory"
        in run("export", "--config", str(config), "--parquet", str(target), "--quiet").stderr
    )
    assert target.read_text() == "not a folder"


def without_root_powers() -> list[str]:
    """A prefix under which a read-only folder is read-only, even for root."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only folder cannot be made")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--"]


def test_read_only_parquet_folder(tenant: Emulator, tmp_path: Path) -> None:
    config = write_config(tmp_path, tenant)
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    try:
        result = subprocess.run(
            [*without_root_powers(),
             *command("export", "--config", str(config), "--parquet", str(folder), "--quiet")],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        folder.chmod(stat.S_IRWXU)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"contractfit export: --parquet {folder} is not writable (Permission denied); "
        "give a folder this user can write.\n"
    )
    assert list(folder.iterdir()) == []


# -- SIGINT ----------------------------------------------------------------------------------


def test_sigint_at_seeded_points_is_exit_130_then_a_rerun_is_exact(
    tenant: Emulator, tmp_path: Path
) -> None:
    """SIGINT lands in Python code or inside a DuckDB statement (which DuckDB turns into
    its own "Query interrupted" error): the same line and exit 130 every time."""
    config = write_config(tmp_path, tenant)
    duck = tmp_path / "out.duckdb"
    rng = random.Random(14)
    args = ("export", "--config", str(config), "--duckdb", str(duck), "--quiet")
    # The points are spread over the export's own work, as measured here: after the
    # interpreter has imported the exporter (a SIGINT among the imports is Python's) and
    # before its last fifth (a SIGINT while the interpreter shuts down kills it outright).
    started = time.monotonic()
    modules = "source_contractfit.cli.main, source_contractfit.export.exporter"
    imports = [sys.executable, "-c", f"import {modules}"]
    assert subprocess.run(imports, check=False).returncode == 0
    first = time.monotonic() - started + 0.3
    started = time.monotonic()
    assert run(*args).returncode == 0
    last = 0.8 * (time.monotonic() - started)
    assert last - first > 0.5, f"an export of {last / 0.8:.1f} s: make the tenant bigger"
    for _ in range(6):
        duck.unlink(missing_ok=True)  # every point starts from scratch: a full export's time
        Path(f"{duck}.wal").unlink(missing_ok=True)
        proc = subprocess.Popen(command(*args), stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(first, last))
        assert proc.poll() is None, "the export ended before the signal: make the tenant bigger"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 130, stderr[-3000:]
        assert stderr.strip().splitlines()[-1] == INTERRUPTED, stderr[-3000:]
        assert "Traceback" not in stderr and "unexpected error" not in stderr
    rerun = run(*args)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert document_ids(duck) == truth(tenant)
    con = duckdb.connect(str(duck), read_only=True)
    ((rows, keys),) = con.execute(
        "SELECT count(*), count(DISTINCT (document_id, version_index)) FROM document_versions"
    ).fetchall()
    con.close()
    assert rows == keys
    expected_versions = sum(len(d["versions"]) for d in tenant.control.documents())
    assert rows == expected_versions
