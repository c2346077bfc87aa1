"""`contractfit demo`: the whole product on one machine, without an account.

Starts the emulator in its own process, writes a config and a catalog of every stream,
runs `source-contractfit read` exactly as an Airbyte sync job would (a subprocess speaking
the protocol on stdout) and prints what arrived per stream; then exports every stream to
DuckDB and Parquet with `contractfit export`, prints what the tables hold, and ends with
the analytics report (terminal summary and `report.html`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from source_contractfit.streams.catalog import STREAMS

# The read prints a line this often, so that a demo reading for a while shows it is alive.
PROGRESS_SECONDS = 2.0


def configured_catalog(
    stream_names: list[str] | None = None, incremental: bool = False
) -> dict[str, Any]:
    """A catalog of the given streams (all by default), as Airbyte sends it.

    With `incremental`, streams that support it are configured incremental (append_dedup).
    """
    from source_contractfit.airbyte.source import airbyte_stream

    streams = []
    for stream in STREAMS:
        if stream_names is not None and stream.name not in stream_names:
            continue
        described = airbyte_stream(stream)
        incremental_here = incremental and stream.incremental
        streams.append(
            {
                "stream": {
                    "name": described.name,
                    "json_schema": described.json_schema,
                    "supported_sync_modes": [m.value for m in described.supported_sync_modes],
                    "source_defined_primary_key": described.source_defined_primary_key,
                },
                "sync_mode": "incremental" if incremental_here else "full_refresh",
                "cursor_field": list(stream.cursor_field or ()) if incremental_here else None,
                "primary_key": [list(key) for key in stream.primary_key],
                "destination_sync_mode": "append_dedup" if incremental_here else "overwrite",
            }
        )
    return {"streams": streams}


def run_demo(*, inboxes: int, documents: int, seed: int, output: str) -> int:
    from contractfit_emulator import EmulatorProcess
    from contractfit_emulator.tenant import ADMIN_API_KEY

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    print(f"Starting the Contract.fit emulator: {inboxes} inboxes, {documents} documents ...")
    with EmulatorProcess(seed=seed, inboxes=inboxes, documents=documents) as emulator:
        config = {
            "base_url": emulator.base_url,
            "credentials": {"auth_type": "api_key", "api_key": ADMIN_API_KEY},
        }
        config_path = out / "config.json"
        catalog_path = out / "catalog.json"
        config_path.write_text(json.dumps(config, indent=2))
        catalog_path.write_text(json.dumps(configured_catalog(), indent=2))
        print(f"Emulator at {emulator.base_url}; config written to {config_path}")
        print("Reading every stream through `source-contractfit read` ...")
        started = time.monotonic()
        command = [
            sys.executable,
            "-m",
            "source_contractfit.airbyte.run",
            "read",
            "--config",
            str(config_path),
            "--catalog",
            str(catalog_path),
        ]
        counts, states, errors = _run_protocol(command)
        elapsed = time.monotonic() - started
        _print_summary(counts, states, elapsed)
        if errors:
            print("The read reported errors:", file=sys.stderr)
            for error in errors:
                print(f"  {error}", file=sys.stderr)
            return 1
        duckdb_path, parquet_dir = out / "contractfit.duckdb", out / "parquet"
        print(f"\nExporting every stream to {duckdb_path} and {parquet_dir}/ ...")
        from source_contractfit.export.exporter import run_export

        code = run_export(str(config_path), str(duckdb_path), str(parquet_dir), None, True)
        if code != 0:
            return code
        print(
            "(The export reads each document once and writes its field values and line-item "
            "cells as rows of its own tables, fields and line_items, so it counts fewer "
            "records than the read above, which sent each of them as a record of "
            "document_fields or document_line_items.)"
        )
    _print_tables(duckdb_path, parquet_dir)
    from source_contractfit.analytics.report import run_report

    print()
    return run_report(str(duckdb_path), str(out / "report.html"))


def _print_tables(duckdb_path: Path, parquet_dir: Path) -> None:
    import duckdb

    con = duckdb.connect(str(duckdb_path), read_only=True)
    listed = con.execute(
        "SELECT table_name, table_type FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_%' ESCAPE '\\'"
    ).fetchall()
    tables = [name for name, kind in listed if kind == "BASE TABLE"]
    views = sorted(name for name, kind in listed if kind == "VIEW")
    print(f"\n{'table':<28} {'DuckDB rows':>12} {'Parquet rows':>13}")
    for table in sorted(tables):
        ((rows,),) = con.execute(f'SELECT count(*) FROM "{table}"').fetchall()
        files = parquet_dir / table
        parquet = 0
        if any(files.rglob("*.parquet")):
            ((parquet,),) = con.execute(
                "SELECT count(*) FROM read_parquet(?, hive_partitioning = true)",
                [str(files / "**" / "*.parquet")],
            ).fetchall()
        print(f"{table:<28} {rows:>12,} {parquet:>13,}")
    con.close()
    if views:
        print(
            f"\nAnalytics views in the DuckDB file (computed from its tables): {', '.join(views)}"
        )


def _run_protocol(command: list[str]) -> tuple[Counter[str], int, list[str]]:
    counts: Counter[str] = Counter()
    states = 0
    errors: list[str] = []
    started = last_said = time.monotonic()
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, bufsize=1 << 20) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            message = json.loads(line)
            kind = message.get("type")
            if kind == "RECORD":
                counts[message["record"]["stream"]] += 1
                now = time.monotonic()
                if now - last_said >= PROGRESS_SECONDS:
                    last_said = now
                    print(
                        f"  {sum(counts.values()):,} records, {counts['documents']:,} documents "
                        f"so far ({message['record']['stream']}, {now - started:.0f} s)",
                        flush=True,
                    )
            elif kind == "STATE":
                states += 1
            elif kind == "TRACE" and message["trace"].get("type") == "ERROR":
                errors.append(message["trace"]["error"]["message"])
    if proc.returncode != 0 and not errors:
        errors.append(f"source-contractfit exited with code {proc.returncode}")
    return counts, states, errors


def _print_summary(counts: Counter[str], states: int, elapsed: float) -> None:
    width = max(len(s.name) for s in STREAMS)
    print()
    print(f"{'stream':<{width}}  records")
    print(f"{'-' * width}  -------")
    for stream in STREAMS:
        print(f"{stream.name:<{width}}  {counts.get(stream.name, 0):>7}")
    total = sum(counts.values())
    docs = counts.get("documents", 0)
    rate = docs / elapsed if elapsed else 0.0
    print(
        f"\n{total:,} records ({states} state messages) in {elapsed:.1f}s; {rate:,.0f} documents/s."
    )
    derived = counts.get("document_fields", 0) + counts.get("document_line_items", 0)
    if derived:
        print(
            f"{derived:,} of them are document_fields and document_line_items records: one "
            "per field value and per line-item cell of each document."
        )
