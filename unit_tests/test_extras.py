"""The lean install: what needs an extra says so in one line; the source needs none.

The venv-level proof (a real `pip install` with only the base) is
integration_tests/test_installs.py; these are the fast checks of the same rules.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from source_contractfit.cli import main as cli
from source_contractfit.extras import EXTRAS, MissingExtra, require


def _without(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name in modules else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_require_names_the_extra_and_the_modules_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    require("anything", *EXTRAS)  # this venv has every extra
    _without(monkeypatch, "plotly")
    require("contractfit export", "export")
    with pytest.raises(MissingExtra) as caught:
        require("the HTML report", "export", "report")
    assert str(caught.value) == (
        "the HTML report needs the 'report' extra (plotly is not installed): "
        "pip install 'source-contractfit[report]'"
    )
    _without(monkeypatch, "pyarrow", "duckdb")
    with pytest.raises(MissingExtra, match=r"\(pyarrow and duckdb are not installed\)"):
        require("contractfit sql", "export")


@pytest.mark.parametrize(
    ("argv", "missing", "named"),
    [
        (["report", "--duckdb", "x.duckdb", "--html", "r.html"], "report", "report"),
        (["report", "--duckdb", "x.duckdb"], "export", "export"),
        (["demo"], "report", "all"),  # one install for everything the demo does
        (["demo"], "export", "all"),
        (["export", "--config", "c.json", "--duckdb", "x.duckdb"], "export", "export"),
    ],
)
def test_the_cli_says_which_extra_in_one_line_and_exits_2(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
    argv: list[str],
    missing: str,
    named: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    _without(monkeypatch, *EXTRAS[missing])
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"pip install 'source-contractfit[{named}]'" in err
    assert list(tmp_path.iterdir()) == []


def test_the_airbyte_source_runs_without_the_export_engines() -> None:
    """spec, and every module of the source imported, with pyarrow, duckdb and plotly
    made unimportable, and the optional C extension too (airbyte-ci's image runs the
    package from source, without building it)."""
    blocker = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                engine = name.split(".")[0] in {"pyarrow", "duckdb", "plotly"}
                if engine or name.endswith("_native"):
                    raise ImportError(f"blocked: {name}")
        sys.meta_path.insert(0, Block())
        from source_contractfit.airbyte.run import main
        sys.argv = ["source-contractfit", "spec"]
        main()
        from source_contractfit.streams.catalog import STREAMS
        from source_contractfit.airbyte.source import SourceContractfit
        import source_contractfit.export.normalize as normalize
        assert normalize.field_records and len(STREAMS) > 10
        import source_contractfit.airbyte.protocol, source_contractfit.read.engine
        print("imported:", sorted(m for m in sys.modules if m.split(".")[0] in
              {"pyarrow", "duckdb", "plotly"} or m.endswith("_native")))
        """
    )
    done = subprocess.run([sys.executable, "-c", blocker], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith('{"type":"SPEC"')
    assert done.stdout.splitlines()[-1] == "imported: []"
