"""The CDK's own standard source tests (spec, check, discover, basic read, bad catalog),
plus the incremental tests of Airbyte's acceptance tests, which the CDK does not collect.

Scenarios come from acceptance-test-config.yml beside this file; the configs it names are
written by the session fixture in conftest.py, pointing at the live emulator. The
`incremental` entries run here as in Airbyte's acceptance tests: two sequential reads (the
second from the first's state), and a read from `future_state` (cursors in 2099), which
must emit no record of those streams. `expected_records.jsonl` holds the records of the
streams whose content does not move with the clock, compared record for record.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

from integration_tests.helpers import ProtocolRun, run_source
from source_contractfit.airbyte.source import SourceContractfit
from source_contractfit.config import ConnectorConfig
from source_contractfit.streams.catalog import STREAMS_BY_NAME

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]

HERE = Path(__file__).parent
EXPECTED_RECORDS = HERE / "expected_records.jsonl"
# Streams whose records depend on the seed only: users carry dates relative to the clock,
# and document_version_names counts what has happened by now.
EXPECTED_STREAMS = ("projects", "inboxes", "formats", "roles", "reports")


def _incremental_entries() -> list[dict[str, Any]]:
    config = yaml.safe_load((HERE / "acceptance-test-config.yml").read_text())
    return list(config["acceptance_tests"]["incremental"]["tests"])


INCREMENTAL = _incremental_entries()


def _load(entry: dict[str, Any], key: str) -> Any:
    return json.loads((HERE / entry[key]).read_text())


def _read(tmp: Path, entry: dict[str, Any], state: list[dict[str, Any]] | None) -> ProtocolRun:
    run = run_source(
        "read", tmp, _load(entry, "config_path"), _load(entry, "configured_catalog_path"), state
    )
    assert run.returncode == 0 and run.errors() == [], run.stderr[-3000:]
    return run


def _incremental_streams(entry: dict[str, Any]) -> list[str]:
    catalog = _load(entry, "configured_catalog_path")
    return [s["stream"]["name"] for s in catalog["streams"] if s["sync_mode"] == "incremental"]


def _key(stream: str, record: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(record[part[0]] for part in STREAMS_BY_NAME[stream].primary_key)


def _cursors(run: ProtocolRun) -> dict[str, dict[str, Any]]:
    """stream -> inbox -> cursor, from the last state of each stream."""
    return {
        state["stream"]["stream_descriptor"]["name"]: {
            inbox: partition["cursor"]
            for inbox, partition in state["stream"]["stream_state"]["partitions"].items()
        }
        for state in run.final_state()
    }


class TestContractfitStandardSuite(SourceTestSuiteBase):
    connector = SourceContractfit

    @pytest.mark.parametrize("entry", INCREMENTAL, ids=lambda e: e["config_path"])
    def test_two_sequential_reads(self, entry: dict[str, Any], tmp_path: Path) -> None:
        """The second read starts from the first's state: the document streams re-send
        nothing unchanged, the dated streams only their `lookback_days` before the cursor
        (stats of recent days change as reviews come in), and no cursor moves back."""
        first = _read(tmp_path, entry, None)
        second = _read(tmp_path, entry, first.final_state())
        cursors_before, cursors_after = _cursors(first), _cursors(second)
        lookback = timedelta(
            ConnectorConfig.from_mapping(_load(entry, "config_path")).lookback_days
        )
        for stream in _incremental_streams(entry):
            before = {_key(stream, r): r for r in first.records(stream)}
            assert before, f"{stream}: the first read emitted nothing"
            again = [r for r in second.records(stream) if before.get(_key(stream, r)) == r]
            if STREAMS_BY_NAME[stream].cursor_field == ("date",):
                too_old = [
                    r for r in second.records(stream)
                    if date.fromisoformat(r["date"])
                    < date.fromisoformat(cursors_before[stream][r["inbox_id"]]) - lookback
                ]  # fmt: skip
                assert too_old == [], f"{stream}: {len(too_old)} records before the lookback"
                assert len(second.records(stream)) < len(before), stream
            else:
                assert again == [], f"{stream}: {len(again)} records sent again unchanged"
        assert set(cursors_after) >= set(_incremental_streams(entry))
        for stream, inboxes in cursors_before.items():
            for inbox, cursor in inboxes.items():
                after = cursors_after[stream][inbox]
                assert cursor is None or (after is not None and after >= cursor), (stream, inbox)

    @pytest.mark.parametrize("entry", INCREMENTAL, ids=lambda e: e["config_path"])
    def test_read_with_future_state(self, entry: dict[str, Any], tmp_path: Path) -> None:
        """A state past the server's present (cursors in 2099) cannot have been written by
        a read of this server: its stream is read again from the start, with one warning
        per stream and inbox, rather than read as "nothing new" (Airbyte's acceptance test
        expects no records here; destinations keep each record once by its key, so the
        re-read costs time, never data). Every stream and inbox of the file is the suite's,
        so the state was applied, not ignored."""
        future = _load(entry["future_state"], "future_state_path")
        future_streams = {s["stream"]["stream_descriptor"]["name"] for s in future}
        assert future_streams == set(_incremental_streams(entry))
        fresh = _read(tmp_path, entry, None)
        run = _read(tmp_path, entry, future)
        for stream in future_streams:
            keys = sorted(_key(stream, r) for r in run.records(stream))
            assert keys == sorted(_key(stream, r) for r in fresh.records(stream)), stream
        warnings = [
            m["log"]["message"] for m in run.of_type("LOG")
            if m["log"]["level"] == "WARN" and "after the server's" in m["log"]["message"]
        ]  # fmt: skip
        partitions = {
            (s["stream"]["stream_descriptor"]["name"], inbox)
            for s in future
            for inbox in s["stream"]["stream_state"]["partitions"]
        }
        # documents and document_versions are read in one walk: one warning per stream.
        assert len(warnings) == len(partitions), warnings
        for stream, inbox in partitions:
            assert sum(f"{stream!r}, inbox {inbox}" in w for w in warnings) == 1, (stream, inbox)
        for stream, inboxes in _cursors(run).items():
            assert not any(str(c).startswith("2099") for c in inboxes.values()), stream

    def test_expected_records(self, tmp_path: Path) -> None:
        """The records of the seed-only streams, as expected_records.jsonl holds them
        (CONTRACTFIT_WRITE_EXPECTED=1 writes the file anew after a deliberate change)."""
        entry = INCREMENTAL[0]
        run = _read(tmp_path, entry, None)
        got = [
            json.dumps({"stream": stream, "data": record}, sort_keys=True)
            for stream in EXPECTED_STREAMS
            for record in run.records(stream)
        ]
        if os.environ.get("CONTRACTFIT_WRITE_EXPECTED") == "1":
            EXPECTED_RECORDS.write_text("\n".join(got) + "\n")
        expected = EXPECTED_RECORDS.read_text().splitlines()
        assert Counter(line.split('"stream": ')[1] for line in expected)  # not empty
        assert got == expected
