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
from source_contractfit.cli.output import say


def html_target_problem(target: Path) -> str | None:
    """Why the page cannot be written to `target` (checked before any query), or None."""
    if target.is_dir():
        return f"{target} is a directory, not a file"
    parent = target.parent
    if not parent.exists():
        return f"its directory {parent} does not exist"
    if not parent.is_dir():
        return f"{parent} is not a directory"
    return None


def run_report(
    duckdb_path: str, html_path: str | None, targets: dict[str, float] | None = None
) -> int:
    """Print the summary; with `html_path`, write the HTML page too. The exit code.

    A closed stdout (`| head`) ends the printing quietly; the page is still written."""
    target = Path(html_path) if html_path else None
    if target is not None and (problem := html_target_problem(target)) is not None:
        print(
            f"contractfit report: cannot write the HTML report {target}: {problem}.",
            file=sys.stderr,
        )
        return 2
    con = connect_or_say(duckdb_path, "report")
    if con is None:
        return 2
    try:
        report = build(con)
    finally:
        con.close()
    report.targets = dict(targets or {})
    say(render_text(report, color=sys.stdout.isatty()))
    if target is not None:
        partial = target.with_name(f".{target.name}.partial")
        try:
            partial.write_text(render_html(report), encoding="utf-8")
            partial.replace(target)
        except OSError as error:
            partial.unlink(missing_ok=True)
            why = error.strerror or type(error).__name__
            print(
                f"contractfit report: cannot write the HTML report {target}: {why}.",
                file=sys.stderr,
            )
            return 2
        say(f"\nHTML report written to {target}")
    return 0
