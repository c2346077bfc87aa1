"""The exporter's Arrow memory pool: jemalloc, unless the user chose one."""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow as pa

PROBE = (
    "import pyarrow as pa; from source_contractfit.export.exporter import use_jemalloc; "
    "use_jemalloc(); print(pa.default_memory_pool().backend_name)"
)


def pool_after_use_jemalloc(chosen: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if chosen:
        env["ARROW_DEFAULT_MEMORY_POOL"] = chosen
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_the_exporter_takes_jemalloc_where_pyarrow_has_it() -> None:
    has_it = "jemalloc" in pa.supported_memory_backends()
    expected = "jemalloc" if has_it else pa.default_memory_pool().backend_name
    assert pool_after_use_jemalloc(None) == expected


def test_a_pool_the_user_chose_is_kept() -> None:
    assert pool_after_use_jemalloc("system") == "system"
