"""export/arrays.py: the same arrays as `pa.array`, without importing pandas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from source_contractfit.export.arrays import int64s, strings
from source_contractfit.export.sinks.parquet_index import parquet_file


@pytest.mark.parametrize(
    "values", [[], ["a"], ["65f1c0de9a1b2c3d4e5f6071", "", "Ünïcødé ✓", "x" * 5000]]
)
def test_strings_equal_pa_array(values: list[str]) -> None:
    built = strings(values)
    built.validate(full=True)
    assert built.equals(pa.array(values, pa.string()))


@pytest.mark.parametrize("values", [[], [0], [-(2**63), 2**63 - 1, 7]])
def test_int64s_equal_pa_array(values: list[int]) -> None:
    built = int64s(iter(values))
    built.validate(full=True)
    assert built.equals(pa.array(values, pa.int64()))


@pytest.mark.parametrize(
    ("build", "values"),
    [
        (strings, ["a", None]),
        (strings, ["\ud800"]),
        (int64s, [1, None]),
        (int64s, [2**63]),
        (int64s, [True, 2]),
    ],
)
def test_what_the_buffers_do_not_take_is_pa_arrays_to_decide(build: Any, values: list[Any]) -> None:
    kind = pa.string() if build is strings else pa.int64()
    try:
        expected = pa.array(values, kind)
    except Exception as error:  # noqa: BLE001 - whatever pyarrow raises, we raise too
        with pytest.raises(type(error)):
            build(values)
    else:
        assert build(values).equals(expected)


def test_a_parquet_file_reads_as_read_table_reads_it(tmp_path: Path) -> None:
    table = pa.table({"id": ["a", "b"], "n": [1, None]})
    pq.write_table(table, tmp_path / "part-0.parquet")
    read = parquet_file(tmp_path / "part-0.parquet")
    assert read.equals(pq.read_table(tmp_path / "part-0.parquet", partitioning=None))
    assert parquet_file(tmp_path / "part-0.parquet", ["id"]).column_names == ["id"]


def test_building_and_reading_never_import_pandas(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": ["a"]}), tmp_path / "part-0.parquet")
    probe = (
        "import sys\n"
        "from source_contractfit.export.arrays import int64s, strings\n"
        "from source_contractfit.export.sinks.parquet_index import parquet_file\n"
        "strings(['a', 'b']); int64s([1, 2]); parquet_file(sys.argv[1])\n"
        "print('pandas' in sys.modules, 'pyarrow.dataset' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "part-0.parquet")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]
