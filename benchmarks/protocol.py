"""Running `source-contractfit read` for the benchmarks: a subprocess, as Airbyte runs it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any


def protocol_read(
    tmp: Path, state: list[dict[str, Any]] | None
) -> tuple[Counter[str], float, list[dict[str, Any]]]:
    """Read with tmp/config.json and tmp/catalog.json (and `state`, if given).

    Returns (records per stream, wall seconds, the last state per stream as the platform
    would pass it to the next sync).
    """
    command = [
        sys.executable, "-m", "source_contractfit.airbyte.run", "read",
        "--config", str(tmp / "config.json"), "--catalog", str(tmp / "catalog.json"),
    ]  # fmt: skip
    if state is not None:
        (tmp / "state.json").write_text(json.dumps(state))
        command += ["--state", str(tmp / "state.json")]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=True)
    wall = time.perf_counter() - started
    records: Counter[str] = Counter()
    last: dict[str, dict[str, Any]] = {}
    for line in done.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            records[message["record"]["stream"]] += 1
        elif message["type"] == "STATE":
            stream = message["state"]["stream"]
            last[stream["stream_descriptor"]["name"]] = {"type": "STREAM", "stream": stream}
    return records, wall, list(last.values())
