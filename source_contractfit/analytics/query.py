"""`contractfit sql`: run one query against an exported DuckDB file and print the result.

The file is opened read-only with the analytics views available (see analytics.connect),
so a query can never change the export. Output is an aligned table (rich, the report's
own), CSV or JSON lines.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import duckdb
import orjson

from source_contractfit.cli.output import say

FORMATS = ("table", "csv", "json")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def format_rows(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, color: bool = False
) -> str:
    """The rows as text; `color` (a terminal) only changes the table format's header."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
        return buffer.getvalue().rstrip("\n")
    if fmt == "json":  # one JSON object per line: streams into jq and pandas.read_json(lines=True)
        return "\n".join(
            orjson.dumps(dict(zip(columns, row, strict=True)), default=_json_default).decode()
            for row in rows
        )
    from source_contractfit.analytics.report.text import text_table

    table = text_table(columns, [[_cell(v) for v in row] for row in rows], color)
    return f"{table}\n({len(rows)} row{'s' if len(rows) != 1 else ''})"


def run_query(duckdb_path: str, sql: str, fmt: str = "table") -> int:
    from source_contractfit.analytics.views import connect_or_say

    con = connect_or_say(duckdb_path, "sql")
    if con is None:
        return 2
    try:
        cursor = con.execute(sql)
        if cursor.description is None:
            return 0
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    except duckdb.Error as error:
        print(f"contractfit sql: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    finally:
        con.close()
    # A reader that closes stdout early (`| head`) wanted no more rows: not an error.
    say(format_rows(columns, rows, fmt, color=sys.stdout.isatty()))
    return 0
