"""The terminal summary: the numbers an operations lead asks for first, as rich tables.

`text_table` is also the `table` format of `contractfit sql`. A table is never wrapped or
cut: the console is as wide as the table, and colour is used only on a terminal.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from source_contractfit.analytics.report.cells import num, pct
from source_contractfit.analytics.report.queries import Report

# Header, a dashed rule under it, then the rows; columns two spaces apart, ASCII only.
_RULED = box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)
_WIDEST = 1_000_000  # a bound for measuring; the console then takes the table's own width


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], color: bool = False) -> str:
    """The first column left-aligned, the others right-aligned (numbers)."""
    table = Table(
        box=_RULED, show_edge=False, pad_edge=False, collapse_padding=True, padding=(0, 1)
    )
    for i, header in enumerate(headers):
        table.add_column(Text(header), justify="left" if i == 0 else "right", no_wrap=True)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=_WIDEST,
        force_terminal=color,
        force_jupyter=False,
        color_system="auto" if color else None,
        markup=False,
        emoji=False,
        highlight=False,
    )
    console.width = max(1, Measurement.get(console, console.options, table).maximum)
    console.print(table)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())


def reconciliation_line(report: Report) -> str:
    total = report.row("reconciliation_total")
    streams, metrics, matching = total["streams"], total["metrics"], total["matching"]
    if not streams:
        return "Vendor stats reconciliation: no stats_* streams exported, nothing to compare."
    if matching == metrics:
        return (
            f"Vendor stats reconciliation: all {metrics:,} metrics of {streams} streams "
            "match our own numbers."
        )
    return (
        f"Vendor stats reconciliation: {metrics - matching:,} of {metrics:,} metrics differ; "
        "see `SELECT * FROM stats_reconciliation WHERE NOT matches`."
    )


def render_text(report: Report, color: bool = False) -> str:
    """The summary as lines of text; `color` for a terminal (bold headers)."""

    def section(title: str, headers: list[str], rows: list[list[str]]) -> list[str]:
        return ["", title, text_table(headers, rows, color)]

    parts = [f"Contract.fit analytics (generated {report.generated_at.isoformat()})"]
    parts += section(
        "Inboxes",
        ["inbox", "documents", "STP", "true STP", "doc accuracy", "field accuracy", "F1"],
        [
            [
                str(r["inbox"]),
                num(r["documents"], 0),
                pct(r["stp_rate"]),
                pct(r["true_stp_rate"]),
                pct(r["document_accuracy"]),
                pct(r["field_accuracy"]),
                pct(r["field_f1"]),
            ]
            for r in report.rows("overview")
        ],
    )
    parts += section(
        "Field accuracy (all inboxes, weakest first)",
        ["field", "n", "accuracy", "precision", "recall", "F1"],
        [
            [
                str(r["field_name"]),
                num(r["n"], 0),
                pct(r["accuracy"]),
                pct(r["precision"]),
                pct(r["recall"]),
                pct(r["f1"]),
            ]
            for r in report.rows("fields")
        ],
    )
    parts += section(
        "Top automation blockers (documents flagged for review)",
        ["field", "reason", "documents", "of blocked"],
        [
            [
                str(r["field_name"]),
                str(r["reason"]),
                num(r["documents"], 0),
                pct(r["share_of_blocked"]),
            ]
            for r in report.rows("blockers")
        ],
    )
    parts += section(
        "Confidence threshold for 95% accuracy on automated fields",
        ["inbox", "threshold", "fields automated"],
        [
            [str(r["inbox"]), num(r["threshold"], 0), pct(r["share_automated"])]
            for r in report.rows("thresholds")
        ],
    )
    parts += section(
        "Review latency (receive to feedback) and processing time, all history",
        ["inbox", "reviewed", "p50 h", "p95 h", "p99 h", "proc p50 s", "proc p95 s"],
        [
            [
                str(r["inbox"]),
                num(r["reviewed"], 0),
                num(r["p50_hours"]),
                num(r["p95_hours"]),
                num(r["p99_hours"]),
                num(r["processing_p50"]),
                num(r["processing_p95"]),
            ]
            for r in report.rows("times")
        ],
    )
    parts += ["", reconciliation_line(report)]
    return "\n".join(parts)
