"""Running the connector the way Airbyte does: a subprocess speaking the protocol."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from source_contractfit.cli.demo import configured_catalog


@dataclass
class ProtocolRun:
    returncode: int
    messages: list[dict[str, Any]]
    stderr: str
    stdout: str = field(repr=False, default="")

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    def records(self, stream: str | None = None) -> list[dict[str, Any]]:
        return [
            m["record"]["data"]
            for m in self.of_type("RECORD")
            if stream is None or m["record"]["stream"] == stream
        ]

    def errors(self) -> list[dict[str, Any]]:
        return [
            m["trace"]["error"] for m in self.of_type("TRACE") if m["trace"].get("type") == "ERROR"
        ]

    def states(self) -> list[dict[str, Any]]:
        return [m["state"] for m in self.of_type("STATE")]

    def final_state(self) -> list[dict[str, Any]]:
        return state_input(self.states())

    def ids(self, stream: str = "documents") -> list[str]:
        key = "id" if stream == "documents" else "document_id"
        return [record[key] for record in self.records(stream)]


def run_source(
    verb: str,
    tmp: Path,
    config: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    state: list[dict[str, Any]] | None = None,
    timeout: float = 300,
    python: str = sys.executable,
) -> ProtocolRun:
    """`verb` run by `python` (another venv's, for the install tests) as a subprocess."""
    command = [python, "-m", "source_contractfit.airbyte.run", verb]
    if config is not None:
        (tmp / "config.json").write_text(json.dumps(config))
        command += ["--config", str(tmp / "config.json")]
    if catalog is not None:
        (tmp / "catalog.json").write_text(json.dumps(catalog))
        command += ["--catalog", str(tmp / "catalog.json")]
    if state is not None:
        (tmp / "state.json").write_text(json.dumps(state))
        command += ["--state", str(tmp / "state.json")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    # orjson: a 15,000-document read is ~400 MB of protocol JSON to parse here.
    messages = [orjson.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return ProtocolRun(done.returncode, messages, done.stderr, done.stdout)


def catalog(*streams: str, incremental: bool = False) -> dict[str, Any]:
    return configured_catalog(list(streams) if streams else None, incremental=incremental)


def state_input(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last state per stream, as the platform persists and passes it back."""
    last: dict[str, dict[str, Any]] = {}
    for state in states:
        last[state["stream"]["stream_descriptor"]["name"]] = state
    return [{"type": "STREAM", "stream": state["stream"]} for _, state in sorted(last.items())]


def read_command(tmp: Path, config: dict[str, Any], catalog: dict[str, Any]) -> list[str]:
    """`source-contractfit read` of `catalog` with `config`, both written into `tmp`, as a
    command line (for tests that watch its output as it comes, and kill it)."""
    (tmp / "config.json").write_text(json.dumps(config))
    (tmp / "catalog.json").write_text(json.dumps(catalog))
    return [
        sys.executable, "-m", "source_contractfit.airbyte.run", "read",
        "--config", str(tmp / "config.json"), "--catalog", str(tmp / "catalog.json"),
    ]  # fmt: skip
