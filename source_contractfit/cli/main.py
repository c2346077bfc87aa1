"""The user CLI `contractfit`: `demo`, `export`, `sql` and `report`."""

from __future__ import annotations

import argparse
import sys

from source_contractfit import __version__
from source_contractfit.cli.output import EXIT_BROKEN_PIPE, silence_stdout
from source_contractfit.extras import MissingExtra, require


def _share(text: str) -> float:
    """A rate between 0 and 1 (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1 (0.6 means 60%)")
    return value


def _extras_needed(args: argparse.Namespace) -> tuple[str, ...]:
    """The extras a command needs: `export`, `sql` and `report` read or write DuckDB and
    Arrow; an HTML report draws with plotly; the demo does all of it."""
    if args.command == "demo":
        return ("all",)
    if args.command == "report" and args.html:
        return ("export", "report")
    return ("export",)


def main(argv: list[str] | None = None) -> int:
    """The exit code. A closed stdout (`| head`) never ends in a traceback: `sql`, `report`
    and `export` finish their work and keep their own exit code (see cli/output.py); a
    command stopped by it anywhere else exits 141, the shell's code for SIGPIPE."""
    try:
        code = _run(argv)
    except BrokenPipeError:
        silence_stdout()
        return EXIT_BROKEN_PIPE
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the last buffered output had no reader: it was not wanted
        silence_stdout()
    return code


def _run(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog="contractfit", description="Contract.fit connector and analytics exporter."
    )
    parser.add_argument("--version", action="version", version=f"contractfit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo",
        help="start the emulator and read every stream through the Airbyte source",
    )
    demo.add_argument("--inboxes", type=int, default=3)
    demo.add_argument("--documents", type=int, default=3000, help="total, over all inboxes")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--output", default="demo-output", help="folder for config and output")

    export = commands.add_parser(
        "export", help="read the streams into DuckDB and/or Parquet, incrementally, exactly once"
    )
    export.add_argument("--config", required=True, help="the connector config JSON file")
    export.add_argument("--duckdb", metavar="FILE", help="DuckDB database file to upsert into")
    export.add_argument("--parquet", metavar="DIR", help="folder of Hive-partitioned Parquet")
    export.add_argument("--streams", help="comma-separated stream names (default: all)")
    export.add_argument(
        "--full-refresh", action="store_true", help="ignore the stored state; rebuild the tables"
    )
    noise = export.add_mutually_exclusive_group()
    noise.add_argument("--quiet", action="store_true", help="errors only")
    noise.add_argument("--verbose", action="store_true", help="debug logging")

    sql = commands.add_parser(
        "sql", help="run a query against an exported DuckDB file (read-only, views included)"
    )
    sql.add_argument("--duckdb", metavar="FILE", required=True, help="an exported DuckDB file")
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table")
    sql.add_argument("query", help='e.g. "SELECT * FROM stp_daily ORDER BY day DESC LIMIT 7"')

    report = commands.add_parser(
        "report", help="print the analytics summary; optionally write a self-contained HTML"
    )
    report.add_argument("--duckdb", metavar="FILE", required=True, help="an exported DuckDB file")
    report.add_argument("--html", metavar="FILE", help="write the HTML report to FILE")
    report.add_argument(
        "--target-stp", type=_share, metavar="RATE", help="an STP goal, e.g. 0.6: drawn, compared"
    )
    report.add_argument(
        "--target-accuracy", type=_share, metavar="RATE", help="a field accuracy goal, e.g. 0.95"
    )

    args = parser.parse_args(argv)
    try:
        require(f"contractfit {args.command}", *_extras_needed(args))
    except MissingExtra as missing:
        print(f"contractfit: {missing}", file=sys.stderr)
        return 2
    if args.command == "sql":
        from source_contractfit.analytics.query import run_query

        return run_query(args.duckdb, args.query, args.format)
    if args.command == "report":
        from source_contractfit.analytics.report import run_report

        targets = {"stp": args.target_stp, "accuracy": args.target_accuracy}
        return run_report(
            args.duckdb, args.html, {k: v for k, v in targets.items() if v is not None}
        )
    if args.command == "export":
        from source_contractfit.export.exporter import run_export

        streams = (
            [s.strip() for s in args.streams.split(",") if s.strip()] if args.streams else None
        )
        return run_export(
            args.config,
            args.duckdb,
            args.parquet,
            streams,
            args.full_refresh,
            quiet=args.quiet,
            verbose=args.verbose,
        )
    if args.command == "demo":
        from source_contractfit.cli.demo import run_demo

        return run_demo(
            inboxes=args.inboxes, documents=args.documents, seed=args.seed, output=args.output
        )
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
