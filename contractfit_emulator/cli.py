"""`contractfit-emulator`: run the emulator as a standalone server."""

from __future__ import annotations

import argparse
import dataclasses
import errno
import gc
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from types import FrameType

from . import tenant
from .app import Emulator
from .faults import DEFAULT_KINDS, parse_kinds
from .generator import BURST_SHARE
from .timeutil import parse_us
from .variants import Variants, parse_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="contractfit-emulator",
        description="Serve a seeded, deterministic emulation of the Contract.fit API.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--inboxes", type=int, default=3)
    parser.add_argument(
        "--documents", type=int, default=1000, help="total documents, spread over the inboxes"
    )
    parser.add_argument(
        "--days",
        type=int,
        default=120,
        help="receive times spread over this many days before --now",
    )
    parser.add_argument(
        "--now", default=None, help="virtual start instant (ISO 8601); pins the data byte for byte"
    )
    parser.add_argument("--jwt-lifetime", type=int, default=900, help="seconds")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument(
        "--faults",
        default=",".join(DEFAULT_KINDS),
        help="comma-separated: 429,500,502,503,504,drop,slow,truncate, and the hostile "
        "cut,trickle,oversize,gzip_bomb (not in the default)",
    )
    parser.add_argument("--fault-seed", type=int, default=1)
    parser.add_argument(
        "--slow-seconds",
        type=float,
        default=2.0,
        help="the delay of `slow`, and between two bytes of `trickle`",
    )
    parser.add_argument(
        "--oversize-mb", type=int, default=300, help="body size of the `oversize` fault"
    )
    parser.add_argument(
        "--bomb-mb", type=int, default=1024, help="inflated size of the `gzip_bomb` fault"
    )
    parser.add_argument(
        "--cache-mb", type=int, default=1536, help="budget for cached serialized documents"
    )
    parser.add_argument(
        "--prefill",
        action="store_true",
        help="serialize all documents into the cache in the background after start",
    )
    parser.add_argument(
        "--burst-share",
        type=float,
        default=BURST_SHARE,
        help="share of documents uploaded in batches that share one receive time",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="delay every answer by this many milliseconds (a server across the internet)",
    )
    parser.add_argument(
        "--latency-per-doc-ms",
        type=float,
        default=0.0,
        help="and by this many milliseconds per Document it serves (rendering, sending)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="another legal reading of API.md, e.g. ignore_order_by or "
        "volume_statuses=to_review,submitted (see variants.py); repeatable",
    )
    parser.add_argument(
        "--ready-file",
        default=None,
        help="write {base_url, control_url, port, pid} here once serving",
    )
    return parser


def _write_ready(path: str, emulator: Emulator) -> None:
    data = {
        "base_url": emulator.base_url,
        "control_url": emulator.control_url,
        "port": emulator.port,
        "pid": os.getpid(),
        "inboxes": emulator.inbox_ids,
    }
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


def _announce(emulator: Emulator, args: argparse.Namespace, elapsed: float) -> None:
    out = sys.stdout
    print(
        f"Contract.fit emulator ready in {elapsed:.1f}s "
        f"({args.documents} documents, seed {args.seed})",
        file=out,
    )
    print(f"  base URL:    {emulator.base_url}", file=out)
    print(f"  control URL: {emulator.control_url}", file=out)
    print(f"  admin:  Basic {tenant.ADMIN_USERNAME} / {tenant.ADMIN_PASSWORD}", file=out)
    print(
        f"          JWT   POST {emulator.base_url}/auth with the same username/password", file=out
    )
    print(f"          X-API-Key: {tenant.ADMIN_API_KEY}", file=out)
    print(
        f"  viewer: Basic {tenant.VIEWER_USERNAME} / {tenant.VIEWER_PASSWORD} (first inbox only)",
        file=out,
    )
    print(f"          X-API-Key: {tenant.VIEWER_API_KEY}", file=out)
    for inbox in emulator.core.directory.inboxes:
        count = len(emulator.core.store.inboxes[inbox.id].keys)
        print(f"  inbox {inbox.id}  {inbox.name}  ({count} documents)", file=out)
    out.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        parse_kinds(args.faults)
    except ValueError as exc:
        parser.error(f"--faults: {exc}")
    try:
        if args.now:
            parse_us(args.now)
    except ValueError:
        parser.error(f"--now: not an ISO 8601 date-time: {args.now!r}")
    try:
        variants = parse_cli(args.variant)
    except ValueError as exc:
        parser.error(f"--variant: {exc}")
    if args.inboxes < 1 or args.documents < 0 or args.days < 1:
        parser.error("--inboxes and --days must be >= 1, --documents >= 0")
    if not 0 <= args.burst_share <= 1:
        parser.error("--burst-share must be between 0 and 1")
    if args.latency_ms < 0 or args.latency_per_doc_ms < 0:
        parser.error("--latency-ms and --latency-per-doc-ms must be >= 0")
    if args.oversize_mb < 1 or args.bomb_mb < 1 or args.slow_seconds < 0:
        parser.error("--oversize-mb and --bomb-mb must be >= 1, --slow-seconds >= 0")
    started = time.monotonic()
    try:
        emulator = _start(args, variants)
    except OSError as exc:
        print(f"contractfit-emulator: {_bind_problem(exc, args.host, args.port)}", file=sys.stderr)
        return 2
    elapsed = time.monotonic() - started

    def _stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        _announce(emulator, args, elapsed)
        if args.ready_file:
            _write_ready(args.ready_file, emulator)
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


def _bind_problem(exc: OSError, host: str, port: int) -> str:
    """One line for a socket that cannot be bound (the only OSError of the start)."""
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is in use; pick another --port, or --port 0 for a free one."
    if exc.errno == errno.EACCES:
        return f"port {port} on {host} is not allowed for this user; pick a port above 1023."
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}."


def _start(args: argparse.Namespace, variants: Variants) -> Emulator:
    emulator = Emulator(
        seed=args.seed,
        inboxes=args.inboxes,
        documents=args.documents,
        host=args.host,
        port=args.port,
        now=args.now,
        jwt_lifetime=args.jwt_lifetime,
        days=args.days,
        fault_rate=args.fault_rate,
        faults=args.faults,
        fault_seed=args.fault_seed,
        cache_mb=args.cache_mb,
        prefill=args.prefill,
        variants=variants,
        latency_ms=args.latency_ms,
        latency_per_doc_ms=args.latency_per_doc_ms,
        burst_share=args.burst_share,
    )
    faults = emulator.core.faults
    faults.configure(
        dataclasses.replace(
            faults.config,
            slow_seconds=args.slow_seconds,
            oversize_mb=args.oversize_mb,
            bomb_mb=args.bomb_mb,
        )
    )
    gc.freeze()  # the generated tenant lives until exit: keep it out of GC passes
    return emulator


if __name__ == "__main__":
    raise SystemExit(main())
