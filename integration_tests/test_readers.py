"""`contractfit sql` and `report` beside a running export (DuckDB allows one writer or
several readers per file: the export holds the file only while it writes a commit)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from contractfit_emulator import Emulator

from .conftest import api_key_config


def contractfit(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "source_contractfit.cli.main", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def test_sql_and_report_run_while_an_export_writes_the_file(tmp_path: Path) -> None:
    # 20 ms a request: the stats streams (a request per inbox and day) take a while.
    with Emulator(seed=9, inboxes=2, documents=1200, latency_ms=20) as emu:
        config = tmp_path / "config.json"
        settings = api_key_config(emu.base_url, max_concurrency=2, checkpoint_interval=200)
        config.write_text(json.dumps(settings))
        target = tmp_path / "out.duckdb"
        command = [
            sys.executable, "-m", "source_contractfit.cli.main", "export", "--config",
            str(config), "--duckdb", str(target), "--quiet",
        ]  # fmt: skip
        export = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        try:
            documents = 0
            deadline = time.monotonic() + 60
            while documents < 1200 and time.monotonic() < deadline:  # the documents commit
                time.sleep(0.5)
                if target.exists():
                    query = contractfit("sql", "--duckdb", str(target), "--format", "csv",
                                        "SELECT count(*) AS n FROM documents")  # fmt: skip
                    assert query.returncode == 0, query.stderr
                    documents = int(query.stdout.splitlines()[1])
            assert documents == 1200
            assert export.poll() is None, "the export was still running (stats streams)"
            report = contractfit("report", "--duckdb", str(target), "--html",
                                 str(tmp_path / "report.html"))  # fmt: skip
            assert report.returncode == 0, report.stderr
            assert (tmp_path / "report.html").stat().st_size > 10_000
            assert export.poll() is None, "sql and report ran while the export wrote"
        finally:
            _, errors = export.communicate(timeout=300)
        assert export.returncode == 0, errors
    final = contractfit("sql", "--duckdb", str(target), "--format", "csv",
                        "SELECT count(*) FROM stats_fields")  # fmt: skip
    assert final.returncode == 0 and int(final.stdout.splitlines()[1]) > 0
