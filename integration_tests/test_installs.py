"""The installs users make, each in a fresh venv built from the project's wheel.

- `pip install source-contractfit` is the Airbyte source alone: no pyarrow, DuckDB or
  plotly, and spec/check/discover/read work against the emulator (which runs here, in the
  test process), with the same records as the full install.
- Its commands that need an extra say which, in one line.
- `pip install airbyte source-contractfit` (PyAirbyte beside it) resolves without moving
  what the source needs, and PyAirbyte reads the source as a local executable into its
  default DuckDB cache, incrementally across two reads.

The venvs are built in the background from the start of the session (installs.py).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contractfit_emulator import Emulator
from integration_tests import installs
from integration_tests.conftest import api_key_config
from integration_tests.helpers import ProtocolRun, catalog, run_source

# The fixtures wait for builds started at collection; pytest-timeout's 300 s would count
# that wait against the first test of the file when it runs alone.
pytestmark = pytest.mark.timeout(installs.BUILD_SECONDS * 2)

SOURCE_NEEDS = ("airbyte-cdk", "httpx", "orjson")
EXTRA_ENGINES = ("pyarrow", "duckdb", "plotly")
ARRIVALS = 7


@pytest.fixture(scope="module")
def base() -> installs.Venv:
    return installs.venv("base")


@pytest.fixture(scope="module")
def pyairbyte() -> installs.Venv:
    return installs.venv("pyairbyte")


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(seed=5, inboxes=2, documents=300, days=20) as emulator:
        yield emulator


def test_the_base_install_is_the_source_alone(base: installs.Venv) -> None:
    versions = base.versions()
    assert [engine for engine in EXTRA_ENGINES if engine in versions] == []
    assert all(name in versions for name in SOURCE_NEEDS), sorted(versions)


def test_the_base_install_runs_the_protocol_like_the_full_one(
    base: installs.Venv, emu: Emulator, tmp_path: Path
) -> None:
    config = api_key_config(emu.base_url)
    spec = run_source("spec", tmp_path, python=base.python)
    assert [m["type"] for m in spec.messages] == ["SPEC"], spec.stderr
    check = run_source("check", tmp_path, config, python=base.python)
    assert check.of_type("CONNECTION_STATUS")[0]["connectionStatus"]["status"] == "SUCCEEDED"
    lean_streams = run_source("discover", tmp_path, config, python=base.python)
    full_streams = run_source("discover", tmp_path, config)
    assert lean_streams.of_type("CATALOG") == full_streams.of_type("CATALOG")

    everything = catalog(incremental=True)
    lean = run_source("read", tmp_path, config, everything, python=base.python)
    full = run_source("read", tmp_path, config, everything)
    for run in (lean, full):
        assert run.returncode == 0 and run.errors() == [], run.stderr[-2000:]
    per_stream = Counter(m["record"]["stream"] for m in lean.of_type("RECORD"))
    # The normalized row streams are read without pyarrow too.
    assert per_stream["documents"] == 300 and per_stream["document_fields"] > 300
    assert _records(lean) == _records(full)
    assert _cursors(lean.final_state()) == _cursors(full.final_state()) != []


def _records(run: ProtocolRun) -> dict[str, list[str]]:
    """stream -> its records as sorted JSON texts (the two reads may interleave inboxes)."""
    out: dict[str, list[str]] = {}
    for message in run.of_type("RECORD"):
        record = message["record"]
        out.setdefault(record["stream"], []).append(json.dumps(record["data"], sort_keys=True))
    return {stream: sorted(texts) for stream, texts in out.items()}


def _cursors(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The states without `reviews_checked_until`, which is the instant of each read."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "reviews_checked_until"}
        return value

    return [strip(state) for state in states]


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "--config", "config.json", "--duckdb", "out.duckdb"],
        ["sql", "--duckdb", "out.duckdb", "SELECT 1"],
        ["report", "--duckdb", "out.duckdb", "--html", "report.html"],
        ["demo", "--output", "demo"],
    ],
    ids=lambda argv: argv[0],
)
def test_a_command_without_its_extra_names_it_in_one_line(
    base: installs.Venv, tmp_path: Path, argv: list[str]
) -> None:
    (tmp_path / "config.json").write_text(json.dumps(api_key_config("http://127.0.0.1:9")))
    done = subprocess.run(
        [base.bin("contractfit"), *argv], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    extra = "all" if argv[0] == "demo" else "export"
    assert f"pip install 'source-contractfit[{extra}]'" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]  # nothing written


def test_importing_the_exporter_api_without_the_extra_names_it(base: installs.Venv) -> None:
    for statement in (
        "import source_contractfit.analytics",
        "import source_contractfit.export.exporter",
        "import source_contractfit.export.sinks",
        "import source_contractfit.export.normalize.arrow_schemas",
        "from source_contractfit.export.normalize import Normalizer",
    ):
        done = subprocess.run([base.python, "-c", statement], capture_output=True, text=True)
        last = done.stderr.strip().splitlines()[-1]
        assert done.returncode == 1 and last.startswith("source_contractfit.extras.MissingExtra")
        assert last.endswith("pip install 'source-contractfit[export]'"), (statement, last)


def test_pyairbyte_installs_beside_the_source_without_moving_it(
    base: installs.Venv, pyairbyte: installs.Venv
) -> None:
    alone, beside = base.versions(), pyairbyte.versions()
    assert "airbyte" in beside
    for name in (*SOURCE_NEEDS, "source-contractfit"):
        assert beside[name] == alone[name], (name, alone[name], beside[name])
    check = subprocess.run([pyairbyte.python, "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_export_extra_resolves_beside_pyairbyte(pyairbyte: installs.Venv) -> None:
    """Its lower bounds admit PyAirbyte's pins (duckdb 1.4.3, pyarrow before 22), whose
    versions the suite also runs on (.ci/run, the oldest versions allowed)."""
    export = f"source-contractfit[export] @ {installs.wheel().as_uri()}"
    done = subprocess.run(
        [pyairbyte.python, "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-",
         "--disable-pip-version-check", export],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    changes = {i["metadata"]["name"].lower() for i in json.loads(done.stdout)["install"]}
    # PyAirbyte's duckdb and pyarrow (and pandas, numpy, rich) are kept as they are.
    assert changes <= {"source-contractfit"}, changes


def test_pyairbyte_reads_the_source_incrementally_into_its_default_cache(
    pyairbyte: installs.Venv, tmp_path: Path
) -> None:
    with Emulator(seed=6, inboxes=2, documents=200, days=20) as emulator:
        config = tmp_path / "config.json"
        config.write_text(json.dumps(api_key_config(emulator.base_url)))
        script = Path(__file__).with_name("pyairbyte_read.py")
        env = {**os.environ, "AIRBYTE_OFFLINE_MODE": "1", "DO_NOT_TRACK": "1"}
        done = subprocess.run(
            [pyairbyte.python, str(script), str(config), pyairbyte.bin("source-contractfit"),
             emulator.control_url, str(ARRIVALS)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = (json.loads(line) for line in done.stdout.splitlines() if line.startswith("{"))
    assert first["cache_rows"] == {"inboxes": 2, "documents": 200}
    assert second["cache_rows"] == {"inboxes": 2, "documents": 200 + ARRIVALS}
    # The second read resumed from the state in the cache: the new documents (and the two
    # inboxes, a full-refresh stream), not the 200 again.
    assert ARRIVALS <= second["processed"] <= ARRIVALS + 2, second
    assert Path(first["cache"]).is_relative_to(tmp_path / ".cache")
