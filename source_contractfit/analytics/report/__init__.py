"""`contractfit report`: what the analytics views say, in a terminal and in one HTML file.

Here: `sql/*.sql` (one SELECT per report table, over the views of `analytics/sql/`),
`queries.py` (runs them into a `Report`), `cells.py` (how a value is written), `text.py`
(the terminal summary, rich tables), `charts.py` (the plotly figures), `html.py` (the
self-contained page) and `command.py` (the CLI glue). Not here: the definitions of the
numbers, which are the views', nor any arithmetic on them, which is the queries'.
"""

from source_contractfit.analytics.report.command import run_report
from source_contractfit.analytics.report.html import render_html
from source_contractfit.analytics.report.queries import MIN_BUCKET_ATOMS, Report, build
from source_contractfit.analytics.report.text import reconciliation_line, render_text, text_table

__all__ = [
    "MIN_BUCKET_ATOMS",
    "Report",
    "build",
    "reconciliation_line",
    "render_html",
    "render_text",
    "run_report",
    "text_table",
]
