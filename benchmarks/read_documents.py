"""Documents/s of `source-contractfit read` (the Airbyte protocol path) against the emulator.

Usage: python benchmarks/read_documents.py [--inboxes 3] [--documents 15000] [--runs 3]

The emulator runs in its own process (fixed seed and clock, so every run reads the same
bytes); the connector runs as Airbyte runs it, a subprocess writing protocol messages to
stdout, which this script reads and counts. Prints each run and the median.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from contractfit_emulator import EmulatorProcess
from contractfit_emulator.tenant import ADMIN_API_KEY
from source_contractfit.cli.demo import configured_catalog

FIXED_NOW = "2026-01-01T00:00:00Z"


def read_once(config_path: Path, catalog_path: Path) -> tuple[int, float, float]:
    """Returns (records, wall seconds, connector CPU seconds)."""
    command = [
        sys.executable, "-m", "source_contractfit.airbyte.run", "read",
        "--config", str(config_path), "--catalog", str(catalog_path),
    ]  # fmt: skip
    started = time.perf_counter()
    records = 0
    with subprocess.Popen(command, stdout=subprocess.PIPE, bufsize=1 << 20) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(b'{"type":"RECORD"'):
                records += 1
    wall = time.perf_counter() - started
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"read failed with exit code {proc.returncode}")
    return records, wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inboxes", type=int, default=3)
    parser.add_argument("--documents", type=int, default=15000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory() as tmp,
        EmulatorProcess(
            seed=42, inboxes=args.inboxes, documents=args.documents, now=FIXED_NOW
        ) as emulator,
    ):
        config_path = Path(tmp) / "config.json"
        catalog_path = Path(tmp) / "catalog.json"
        config = {
            "base_url": emulator.base_url,
            "credentials": {"auth_type": "api_key", "api_key": ADMIN_API_KEY},
            "page_size": args.page_size,
            "max_concurrency": args.concurrency,
        }
        config_path.write_text(json.dumps(config))
        catalog_path.write_text(json.dumps(configured_catalog(["documents"])))
        rates = []
        print(f"read of documents: {args.inboxes} inboxes, {args.documents} documents")
        # The emulator renders each document on first request; warm it so runs are equal.
        records, wall, cpu_before = read_once(config_path, catalog_path)
        print(f"  warm-up (cold emulator): {records} records in {wall:.2f}s")
        for run in range(1, args.runs + 1):
            records, wall, cpu_total = read_once(config_path, catalog_path)
            cpu = cpu_total - cpu_before
            cpu_before = cpu_total
            if records != args.documents:
                raise SystemExit(f"expected {args.documents} records, got {records}")
            rates.append(records / wall)
            print(
                f"  run {run}: {records} records in {wall:.2f}s = {records / wall:,.0f} docs/s, "
                f"connector CPU {cpu:.2f}s ({1000 * cpu / records:.2f}s per 1,000 docs)"
            )
        print(f"median: {statistics.median(rates):,.0f} documents/s over {args.runs} runs")


if __name__ == "__main__":
    main()
