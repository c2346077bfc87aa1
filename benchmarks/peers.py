"""Side by side with the peers: dlt `rest_api` and an Airbyte declarative manifest.

Usage (from the repository root, in the project venv; not part of CI):

    python benchmarks/peers.py [--documents 10000] [--inboxes 4] [--runs 3]
                               [--peers-dir DIR] [--dlt-default] [--output FILE.md]

Every contender reads the same tenant: the emulator in its own process, fixed seed and
clock, prefilled (every document served from memory), documents in their full shape
(versions, annotations, line items). Each peer is installed once by this script into its
own venv under `--peers-dir` (default `~/.cache/contractfit-peers`), at the pinned
version below, so it never shares a package with the project:

- `manifest`: `source-declarative-manifest read` (airbyte-cdk) of a manifest with the
  same endpoints: `/inboxes`, then `/inboxes/{id}/paginated` per inbox (a
  SubstreamPartitionRouter), `per_page` 100, `order_by=receive_time,id`, PageIncrement
  paging, the X-API-Key header; stdout to /dev/null, as Airbyte's platform would consume it.
- `dlt-parquet`: dlt `rest_api` source with the same two resources (the documents resource
  resolved from the inboxes), pipeline into DuckDB with `loader_file_format="parquet"`,
  default nesting (child tables for versions, annotations, lines).
- `dlt-default` (with `--dlt-default`; minutes per run): the same with dlt's default loader.

Ours, from this checkout: `contractfit export --streams documents` into DuckDB and into
Parquet (the five document tables), and `source-contractfit read` of `documents`.

Method as `perf.py` (its child runner is reused): children reaped with `os.wait4` for their
own peak RSS and CPU; interleaved rounds, the order rotated each round; medians. Each run
is verified: ours by their tables' document count, dlt by its `documents` table, the
manifest by one untimed run whose RECORD lines are counted. The target line says whether
both exports reach 4 x the fastest peer's median docs/s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perf import (  # noqa: E402 - the harness next to this file
    CACHE_BYTES_PER_DOCUMENT,
    DEFAULT_CACHE_MB,
    FIXED_NOW,
    Run,
    RunFailed,
    child_env,
    count_duckdb,
    count_parquet,
    count_protocol_records,
    environment,
    run_child,
)

from contractfit_emulator import ADMIN_API_KEY, EmulatorProcess
from source_contractfit.cli.demo import configured_catalog

DLT_VERSION = "1.31.0"
AIRBYTE_CDK_VERSION = "7.39.1"
TARGET = 4.0
PEERS = ("manifest", "dlt-parquet", "dlt-default")
OURS = ("export-duckdb", "export-parquet", "protocol")

MANIFEST = {
    "version": "6.7.0",
    "type": "DeclarativeSource",
    "check": {"type": "CheckStream", "stream_names": ["inboxes"]},
    "spec": {
        "type": "Spec",
        "connection_specification": {
            "type": "object",
            "required": ["base_url", "api_key"],
            "properties": {
                "base_url": {"type": "string"},
                "api_key": {"type": "string", "airbyte_secret": True},
            },
        },
    },
    "definitions": {
        "requester": {
            "type": "HttpRequester",
            "url_base": "{{ config['base_url'] }}",
            "http_method": "GET",
            "authenticator": {
                "type": "ApiKeyAuthenticator",
                "api_token": "{{ config['api_key'] }}",
                "inject_into": {
                    "type": "RequestOption",
                    "inject_into": "header",
                    "field_name": "X-API-Key",
                },
            },
        },
        "schema": {
            "type": "InlineSchemaLoader",
            "schema": {"type": "object", "additionalProperties": True, "properties": {}},
        },
        "inboxes": {
            "type": "DeclarativeStream",
            "name": "inboxes",
            "primary_key": ["id"],
            "schema_loader": {"$ref": "#/definitions/schema"},
            "retriever": {
                "type": "SimpleRetriever",
                "requester": {"$ref": "#/definitions/requester", "path": "/inboxes"},
                "record_selector": {
                    "type": "RecordSelector",
                    "extractor": {"type": "DpathExtractor", "field_path": []},
                },
            },
        },
    },
    "streams": [
        {"$ref": "#/definitions/inboxes"},
        {
            "type": "DeclarativeStream",
            "name": "documents",
            "primary_key": ["id"],
            "schema_loader": {"$ref": "#/definitions/schema"},
            "retriever": {
                "type": "SimpleRetriever",
                "requester": {
                    "$ref": "#/definitions/requester",
                    "path": "/inboxes/{{ stream_partition.inbox_id }}/paginated",
                    "request_parameters": {"per_page": "100", "order_by": "receive_time,id"},
                },
                "record_selector": {
                    "type": "RecordSelector",
                    "extractor": {"type": "DpathExtractor", "field_path": ["results"]},
                },
                "paginator": {
                    "type": "DefaultPaginator",
                    "page_token_option": {
                        "type": "RequestOption",
                        "inject_into": "request_parameter",
                        "field_name": "page",
                    },
                    "pagination_strategy": {
                        "type": "PageIncrement",
                        "page_size": 100,
                        "start_from_page": 1,
                    },
                },
                "partition_router": {
                    "type": "SubstreamPartitionRouter",
                    "parent_stream_configs": [
                        {
                            "type": "ParentStreamConfig",
                            "parent_key": "id",
                            "partition_field": "inbox_id",
                            "stream": {"$ref": "#/definitions/inboxes"},
                        }
                    ],
                },
            },
        },
    ],
}

DLT_SCRIPT = """
import sys
import dlt
from dlt.sources.rest_api import rest_api_source

base_url, api_key, target, file_format = sys.argv[1:5]
source = rest_api_source({
    "client": {
        "base_url": base_url,
        "auth": {"type": "api_key", "name": "X-API-Key", "api_key": api_key,
                 "location": "header"},
    },
    "resource_defaults": {"write_disposition": "replace"},
    "resources": [
        {"name": "inboxes",
         "endpoint": {"path": "inboxes", "paginator": "single_page", "data_selector": "$"}},
        {"name": "documents",
         "endpoint": {
             "path": "inboxes/{inbox_id}/paginated",
             "params": {
                 "inbox_id": {"type": "resolve", "resource": "inboxes", "field": "id"},
                 "per_page": 100,
                 "order_by": "receive_time,id",
             },
             "paginator": {"type": "page_number", "base_page": 1, "page_param": "page",
                           "total_path": None, "stop_after_empty_page": True},
             "data_selector": "results",
         }},
    ],
})
pipeline = dlt.pipeline(
    pipeline_name="contractfit_peer",
    destination=dlt.destinations.duckdb(target),
    dataset_name="contractfit",
    pipelines_dir=target + ".pipelines",
)
options = {} if file_format == "default" else {"loader_file_format": file_format}
pipeline.run(source, **options)
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def venv(root: Path, name: str, requirement: str) -> Path:
    """The python of a venv holding `requirement` (created once, then reused)."""
    folder = root / name
    python = folder / "bin" / "python"
    marker = folder / "installed.txt"
    if marker.exists() and marker.read_text() == requirement:
        return python
    log(f"installing {requirement} into {folder} (once)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", requirement],
        check=True,
    )
    marker.write_text(requirement)
    return python


def count_dlt(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM contractfit.documents").fetchone()
    return int(row[0]) if row else 0


class Bench:
    """The contenders of one tenant, each a command plus a check of what it delivered."""

    def __init__(self, args: argparse.Namespace, base_url: str, work: Path) -> None:
        self.args = args
        self.size = args.documents
        self.env = child_env()
        # The peers run in their own venvs, with nothing of this checkout on their path.
        self.peer_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        root = Path(args.peers_dir).expanduser()
        root.mkdir(parents=True, exist_ok=True)
        self.manifest_python = venv(root, "manifest", f"airbyte-cdk=={AIRBYTE_CDK_VERSION}")
        self.dlt_python = venv(root, "dlt", f"dlt[duckdb,parquet]=={DLT_VERSION}")
        self.base_url = base_url
        self.config = work / "config.json"
        self.config.write_text(
            json.dumps(
                {
                    "base_url": base_url,
                    "credentials": {"auth_type": "api_key", "api_key": ADMIN_API_KEY},
                }
            )
        )
        self.catalog = work / "catalog.json"
        self.catalog.write_text(json.dumps(configured_catalog(["documents"])))
        self.manifest_config = work / "manifest-config.json"
        self.manifest_config.write_text(
            json.dumps(
                {
                    "__injected_declarative_manifest": MANIFEST,
                    "base_url": base_url,
                    "api_key": ADMIN_API_KEY,
                }
            )
        )
        self.manifest_catalog = work / "manifest-catalog.json"
        self.manifest_catalog.write_text(json.dumps(manifest_catalog()))
        self.dlt_script = work / "dlt_run.py"
        self.dlt_script.write_text(DLT_SCRIPT)

    def command(self, contender: str, folder: Path) -> tuple[list[str], Callable[[], int]]:
        """The command of `contender` writing into `folder`, and how to count its output."""
        py = sys.executable
        if contender == "export-duckdb":
            target = folder / "out.duckdb"
            return [py, "-m", "source_contractfit.cli.main", "export", "--config",
                    str(self.config), "--duckdb", str(target), "--streams", "documents",
                    "--quiet"], lambda: count_duckdb(target)  # fmt: skip
        if contender == "export-parquet":
            target = folder / "parquet"
            return [py, "-m", "source_contractfit.cli.main", "export", "--config",
                    str(self.config), "--parquet", str(target), "--streams", "documents",
                    "--quiet"], lambda: count_parquet(target)  # fmt: skip
        if contender == "protocol":
            command = [py, "-m", "source_contractfit.airbyte.run", "read", "--config",
                       str(self.config), "--catalog", str(self.catalog)]  # fmt: skip
            return command, lambda: self.size
        if contender == "manifest":
            cli = self.manifest_python.parent / "source-declarative-manifest"
            return [str(cli), "read", "--config", str(self.manifest_config), "--catalog",
                    str(self.manifest_catalog)], lambda: self.size  # fmt: skip
        if contender.startswith("dlt-"):
            target = folder / "dlt.duckdb"
            file_format = "parquet" if contender == "dlt-parquet" else "default"
            return [str(self.dlt_python), str(self.dlt_script), self.base_url, ADMIN_API_KEY,
                    str(target), file_format], lambda: count_dlt(target)  # fmt: skip
        raise ValueError(contender)

    def run(self, contender: str, round_: int) -> Run:
        with tempfile.TemporaryDirectory(prefix=f"cf-peers-{contender}-") as name:
            folder = Path(name)
            command, count = self.command(contender, folder)
            env = self.env if contender in OURS else self.peer_env
            wall, cpu, rss_kb = run_child(command, None, folder / "stderr", env)
            counted = count()
            if counted != self.size:
                raise RunFailed(f"{contender}: expected {self.size} documents, got {counted}")
        return Run(contender, self.size, round_, wall, cpu, rss_kb)

    def verify_record_counts(self) -> None:
        """One untimed run of each protocol reader, its document RECORDs counted."""
        for contender in ("protocol", "manifest"):
            with tempfile.TemporaryDirectory(prefix="cf-peers-verify-") as name:
                folder = Path(name)
                command, _ = self.command(contender, folder)
                env = self.env if contender in OURS else self.peer_env
                run_child(command, folder / "stdout", folder / "stderr", env)
                counted = count_protocol_records(folder / "stdout")
                if counted != self.size:
                    raise RunFailed(f"{contender}: {counted} document records, not {self.size}")
                log(f"  verified {contender}: {counted:,} document records")


def manifest_catalog() -> dict[str, object]:
    stream = {
        "name": "documents",
        "json_schema": {"type": "object"},
        "supported_sync_modes": ["full_refresh"],
    }
    return {
        "streams": [
            {"stream": stream, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
        ]
    }


def report(runs: list[Run], contenders: list[str]) -> list[str]:
    medians = {
        c: statistics.median(r.docs_per_s for r in runs if r.contender == c) for c in contenders
    }
    peers = [c for c in contenders if c in PEERS]
    fastest = max(peers, key=lambda c: medians[c])
    lines = [
        "| contender | docs/s (median) | min–max | × fastest peer | peak RSS MB "
        "| CPU s / 1k docs |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for contender in contenders:
        mine = [r for r in runs if r.contender == contender]
        rates = [r.docs_per_s for r in mine]
        cpu = statistics.median(1000 * r.cpu / r.size for r in mine)
        lines.append(
            f"| {contender} | {medians[contender]:,.0f} | {min(rates):,.0f}–{max(rates):,.0f} "
            f"| {medians[contender] / medians[fastest]:.2f} | {max(r.rss_mb for r in mine):,.0f} "
            f"| {cpu:.3f} |"
        )
    lines.append("")
    for contender in ("export-duckdb", "export-parquet"):
        ratio = medians[contender] / medians[fastest]
        verdict = "PASS" if ratio >= TARGET else "FAIL"
        lines.append(
            f"- {verdict} {contender}: {ratio:.2f} × the fastest peer ({fastest}) >= {TARGET:.0f}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--inboxes", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--peers-dir", default="~/.cache/contractfit-peers")
    parser.add_argument("--dlt-default", action="store_true", help="also dlt's default loader")
    parser.add_argument("--output", metavar="FILE.md", help="also write the report here")
    args = parser.parse_args()
    contenders = [*OURS, "manifest", "dlt-parquet", *(["dlt-default"] if args.dlt_default else [])]
    started = time.perf_counter()
    cache_mb = max(DEFAULT_CACHE_MB, -(-args.documents * CACHE_BYTES_PER_DOCUMENT // 2**20))
    emulator = EmulatorProcess(
        seed=args.seed, inboxes=args.inboxes, documents=args.documents, now=FIXED_NOW,
        cache_mb=cache_mb, prefill=True, startup_timeout=600.0,
    )  # fmt: skip
    runs: list[Run] = []
    try:
        with emulator, tempfile.TemporaryDirectory(prefix="cf-peers-") as work:
            bench = Bench(args, emulator.base_url, Path(work))
            bench.verify_record_counts()
            for round_ in range(args.runs):
                start = round_ % len(contenders)
                for contender in contenders[start:] + contenders[:start]:
                    run = bench.run(contender, round_)
                    runs.append(run)
                    log(f"  round {round_ + 1} {contender:<15} {run.wall:7.2f} s "
                        f"{run.docs_per_s:8,.0f} docs/s  RSS {run.rss_mb:6,.0f} MB")  # fmt: skip
    except (RunFailed, subprocess.CalledProcessError) as error:
        log(f"FAILED: {error}")
        return 2
    elapsed = time.perf_counter() - started
    lines = [
        f"{args.documents:,} documents, {args.inboxes} inboxes; dlt {DLT_VERSION}, "
        f"airbyte-cdk {AIRBYTE_CDK_VERSION}; {args.runs} interleaved rounds",
        "",
        *report(runs, contenders),
    ]
    print("\n".join(lines))
    if args.output:
        header = ["# Peers", "", *environment(args, elapsed, "-"), ""]
        Path(args.output).write_text("\n".join([*header, *lines, ""]), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
