"""`contractfit report`: open the export, run the report's queries, print, write the page.

The page is written beside its final name and renamed, so a reader never finds a
half-written report.
"""

from __future__ import annotations

import sys
from pathlib import Path

from source_contractfit.analytics.report.html import render_html
from source_contractfit.analytics.report.queries import build
from source_contractfit.analytics.report.text import render_text
from source_contractfit.analytics.views import connect_or_say


def run_report(duckdb_path: str, html_path: str | None) -> int:
    """Print the summary; with `html_path`, write the HTML page too. The exit code."""
    con = connect_or_say(duckdb_path, "report")
    if con is None:
        return 2
    try:
        report = build(con)
    finally:
        con.close()
    print(render_text(report, color=sys.stdout.isatty()))
    if html_path:
        target = Path(html_path)
        partial = target.with_name(f".{target.name}.partial")
        partial.write_text(render_html(report), encoding="utf-8")
        partial.replace(target)
        print(f"\nHTML report written to {target}")
    return 0
