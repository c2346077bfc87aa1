"""Peak RSS of `source-contractfit read` at one size, with and without environment settings.

Usage: python benchmarks/read_rss.py 100000 - MALLOC_ARENA_MAX=2 - MALLOC_ARENA_MAX=2

Starts the emulator (seed 42, 4 inboxes, prefilled) and runs a full-refresh read of
`documents` once per argument, stdout to /dev/null: `-` runs it as is, `NAME=VALUE` with
that variable set. Prints wall time and the child's own peak RSS (os.wait4). Used to show
that the protocol read's peak varies run to run with glibc's per-thread malloc arenas.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from contractfit_emulator import ADMIN_API_KEY, EmulatorProcess
from source_contractfit.cli.demo import configured_catalog


def main() -> None:
    size, settings = int(sys.argv[1]), sys.argv[2:] or ["-"]
    cache_mb = max(1536, size * 20 // 1024)
    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess(
        seed=42, inboxes=4, documents=size, now="2026-01-01T00:00:00Z", prefill=True,
        cache_mb=cache_mb,
    ) as emu:  # fmt: skip
        config, catalog = Path(tmp) / "config.json", Path(tmp) / "catalog.json"
        credentials = {"auth_type": "api_key", "api_key": ADMIN_API_KEY}
        config.write_text(json.dumps({"base_url": emu.base_url, "credentials": credentials}))
        catalog.write_text(json.dumps(configured_catalog(["documents"])))
        time.sleep(5)  # let the prefill finish
        for setting in settings:
            env = dict(os.environ)
            if setting != "-":
                name, _, value = setting.partition("=")
                env[name] = value
            command = [sys.executable, "-m", "source_contractfit.airbyte.run", "read",
                       "--config", str(config), "--catalog", str(catalog)]  # fmt: skip
            started = time.perf_counter()
            child = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=env)
            _, status, usage = os.wait4(child.pid, 0)
            wall = time.perf_counter() - started
            print(f"{setting:<20} exit {status >> 8}  {wall:6.1f} s  {usage.ru_maxrss // 1024} MB")


if __name__ == "__main__":
    main()
