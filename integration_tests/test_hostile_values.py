"""Values no emulator sends, from a hostile proxy, end to end (issue 14).

- a 30-digit JSON integer keeps every digit: `fields.value` holds its exact text and
  `value_number` is NULL (no float holds it), in DuckDB, in Parquet and in the Airbyte
  record;
- one document with a 50 MB string is stored (DuckDB and Parquet hold what the API sent),
  so the run ends well instead of failing on that document every time.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from contractfit_emulator import Emulator

from .conftest import api_key_config
from .helpers import catalog, run_source
from .hostile import HostileProxy

HUGE = 123456789012345678901234567890
INVOICE_NUMBER = re.compile(rb'"invoice_number":\[\{"value":"[^"]*"')


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(seed=5, inboxes=1, documents=30) as emulator:
        yield emulator


def export(config: dict[str, object], tmp: Path, *sinks: str) -> subprocess.CompletedProcess[str]:
    path = tmp / "config.json"
    path.write_text(json.dumps(config))
    args = ["export", "--config", str(path), "--streams", "documents", "--quiet"]
    command = [sys.executable, "-m", "source_contractfit.cli.main", *args, *sinks]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def huge_invoice_numbers(path: str, body: bytes) -> bytes:
    replacement = b'"invoice_number":[{"value":' + str(HUGE).encode()
    return INVOICE_NUMBER.sub(replacement, body)


def test_a_30_digit_integer_keeps_every_digit(emu: Emulator, tmp_path: Path) -> None:
    with HostileProxy(emu.base_url, rewrite=huge_invoice_numbers) as proxy:
        duck, parquet = tmp_path / "out.duckdb", tmp_path / "parquet"
        result = export(
            api_key_config(proxy.base_url),
            tmp_path,
            "--duckdb",
            str(duck),
            "--parquet",
            str(parquet),
        )
        assert result.returncode == 0, result.stderr
        read = run_source("read", tmp_path, api_key_config(proxy.base_url), catalog("documents"))
    assert read.returncode == 0, read.stderr[-2000:]
    # The standard library's parser: orjson (the helper's) would make the number a float.
    messages = [json.loads(line) for line in read.stdout.splitlines()]
    numbers = [
        m["record"]["data"]["prediction"]["annotations"]["invoice_number"][0]["value"]
        for m in messages
        if m["type"] == "RECORD"
    ]
    assert len(numbers) == 30 and set(numbers) == {HUGE}
    query = (
        "SELECT count(*), count(DISTINCT value), min(value), count(value_number) FROM {} "
        "WHERE field_name = 'invoice_number' AND version_index = 0"
    )
    with duckdb.connect(str(duck), read_only=True) as con:
        from_duckdb = con.execute(query.format("fields")).fetchone()
        rejects = con.execute("SELECT count(*) FROM rejects").fetchone()
    files = f"read_parquet('{parquet}/fields/**/*.parquet', hive_partitioning = true)"
    from_parquet = duckdb.execute(query.format(files)).fetchone()
    assert from_duckdb == from_parquet == (30, 1, str(HUGE), 0)
    assert rejects == (0,)


FILENAME = re.compile(rb'"original_filename":"[^"]*"')
BIG = 50 * 1024 * 1024


def one_huge_filename(path: str, body: bytes) -> bytes:
    """The first document of the inbox's first page gets a 50 MB file name."""
    if "paginated" not in path or "page=1" not in path:
        return body
    return FILENAME.sub(b'"original_filename":"' + b"x" * BIG + b'"', body, count=1)


def test_a_document_with_a_50_mb_string_is_stored_not_a_failure_forever(
    emu: Emulator, tmp_path: Path
) -> None:
    duck, parquet = tmp_path / "out.duckdb", tmp_path / "parquet"
    with HostileProxy(emu.base_url, rewrite=one_huge_filename) as proxy:
        config = api_key_config(proxy.base_url, max_response_mb=200)
        result = export(config, tmp_path, "--duckdb", str(duck), "--parquet", str(parquet))
        assert result.returncode == 0, result.stderr
        # Again over the stored huge value: deleted and written anew, still within bounds.
        again = export(
            config, tmp_path, "--duckdb", str(duck), "--parquet", str(parquet), "--full-refresh"
        )
    assert again.returncode == 0, again.stderr
    query = "SELECT count(*), max(length(original_filename)) FROM {}"
    with duckdb.connect(str(duck), read_only=True) as con:
        from_duckdb = con.execute(query.format("documents")).fetchone()
    files = f"read_parquet('{parquet}/documents/**/*.parquet', hive_partitioning = true)"
    from_parquet = duckdb.execute(query.format(files)).fetchone()
    assert from_duckdb == from_parquet == (30, BIG)
