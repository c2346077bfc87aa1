"""Documents/s and peak RSS of `contractfit export` at two sizes (default 10k and 100k).

Usage: python benchmarks/export_scale.py [--sizes 10000,100000] [--inboxes 3] [--sink both]

For each size: the emulator starts in its own process (fixed seed) and is warmed up (every
page fetched once, so it serves from its cache); then the document streams are exported
into a fresh DuckDB file and, separately, a fresh Parquet folder. The export runs in a
child process whose own peak RSS (ru_maxrss) is reported, so the emulator's memory does not
count. Prints one line per run and the RSS ratio between the sizes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from contractfit_emulator import ADMIN_API_KEY, EmulatorProcess

FAMILY = "documents,document_versions,document_fields,document_line_items"
MEASURE = (
    "import resource, runpy, sys\n"
    "sys.argv = ['contractfit'] + sys.argv[1:]\n"
    "try:\n"
    "    runpy.run_module('source_contractfit.cli.main', run_name='__main__')\n"
    "except SystemExit as done:\n"
    "    code = done.code\n"
    "else:\n"
    "    code = 0\n"
    "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def warm(base_url: str, inboxes: list[str]) -> None:
    with httpx.Client(headers={"X-API-Key": ADMIN_API_KEY}, timeout=120) as client:
        for inbox in inboxes:
            page = 1
            while True:
                body = client.get(
                    f"{base_url}/inboxes/{inbox}/paginated",
                    params={"per_page": 100, "page": page, "order_by": "receive_time,id"},
                ).json()
                if len(body["results"]) < 100:
                    break
                page += 1


def export(tmp: Path, sink: str) -> tuple[float, int]:
    target = ["--duckdb", str(tmp / "out.duckdb")] if sink == "duckdb" else [
        "--parquet", str(tmp / "parquet")]  # fmt: skip
    command = [sys.executable, "-c", MEASURE, "export", "--config", str(tmp / "config.json"),
               "--streams", FAMILY, "--quiet", *target]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"export failed: {done.stderr[-2000:]}")
    peak = int(done.stderr.rsplit("PEAK_RSS_KB", 1)[1].split()[0])
    return wall, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--inboxes", type=int, default=3)
    parser.add_argument("--sink", choices=["duckdb", "parquet", "both"], default="both")
    args = parser.parse_args()
    sinks = ["duckdb", "parquet"] if args.sink == "both" else [args.sink]
    peaks: dict[tuple[str, int], int] = {}
    print(f"{'documents':>10} {'sink':>8} {'seconds':>8} {'docs/s':>8} {'peak RSS MB':>12}")
    for size in [int(s) for s in args.sizes.split(",")]:
        with EmulatorProcess(seed=42, inboxes=args.inboxes, documents=size) as emulator:
            warm(emulator.base_url, emulator.control.inbox_ids())
            for sink in sinks:
                with tempfile.TemporaryDirectory() as folder:
                    tmp = Path(folder)
                    config = {
                        "base_url": emulator.base_url,
                        "credentials": {"auth_type": "api_key", "api_key": ADMIN_API_KEY},
                    }
                    (tmp / "config.json").write_text(json.dumps(config))
                    wall, peak = export(tmp, sink)
                peaks[(sink, size)] = peak
                rate = size / wall
                print(f"{size:>10} {sink:>8} {wall:>8.1f} {rate:>8,.0f} {peak / 1024:>12.0f}")
    sizes = sorted({size for _, size in peaks})
    if len(sizes) == 2:
        for sink in sinks:
            ratio = peaks[(sink, sizes[1])] / peaks[(sink, sizes[0])]
            print(f"peak RSS ratio {sink} {sizes[1]} / {sizes[0]}: {ratio:.2f}")


if __name__ == "__main__":
    main()
