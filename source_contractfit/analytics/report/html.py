"""The report as one self-contained HTML page: plotly.js inline, so it opens offline.

Headline cards, then one section per question (STP, accuracy per field, calibration,
blockers, latency, usage, reconciliation), each a note and a chart or a table.
"""

from __future__ import annotations

import html

from source_contractfit import __version__
from source_contractfit.analytics.report.cells import month, num, pct
from source_contractfit.analytics.report.charts import POOLED, charts
from source_contractfit.analytics.report.queries import MIN_BUCKET_ATOMS, Report
from source_contractfit.analytics.report.text import reconciliation_line

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;
color:#1d2430}
header{background:#17324d;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;opacity:.8;font-size:13px}
main{padding:16px 32px;max-width:1280px}
section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08);
margin:16px 0;padding:16px 20px}
h2{font-size:17px;margin:0 0 4px}p.note{margin:0 0 8px;color:#5b6573;font-size:13px}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:12px 16px;
min-width:150px}.card b{display:block;font-size:24px}.card span{font-size:12px;color:#5b6573}
table{border-collapse:collapse;font-size:13px;margin-top:8px}
th,td{padding:4px 10px;border-bottom:1px solid #e6e8eb;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f0f2f5}
header .ok{color:#9be7b0}header .bad{color:#ffb4a9}
"""


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cards(report: Report) -> str:
    totals = report.row("totals")
    pooled = report["fields"][report["fields"]["field_name"] == POOLED]
    cards = [
        ("documents processed", num(totals["documents"], 0)),
        ("straight through", pct(totals["stp_rate"])),
        ("documents reviewed and judged", num(totals["documents_evaluated"], 0)),
        ("field accuracy", pct(pooled["accuracy"].iloc[0] if len(pooled) else None)),
        ("field F1", pct(pooled["f1"].iloc[0] if len(pooled) else None)),
    ]
    return "".join(
        f'<div class="card"><b>{html.escape(v)}</b><span>{html.escape(k)}</span></div>'
        for k, v in cards
    )


def _sections(report: Report) -> list[tuple[str, str, str]]:
    """(title, note, content) of each section, in page order."""
    chart = charts(report)
    return [
        (
            "Inboxes",
            "STP: share of documents not flagged for review. True STP: STP rate times the share "
            "of sampled STP documents a reviewer found fully correct.",
            _table(
                [
                    "inbox",
                    "documents",
                    "STP",
                    "true STP",
                    "judged",
                    "doc accuracy",
                    "field accuracy",
                    "F1",
                ],
                [
                    [
                        str(r["inbox"]),
                        num(r["documents"], 0),
                        pct(r["stp_rate"]),
                        pct(r["true_stp_rate"]),
                        num(r["documents_evaluated"], 0),
                        pct(r["document_accuracy"]),
                        pct(r["field_accuracy"]),
                        pct(r["field_f1"]),
                    ]
                    for r in report.rows("overview")
                ],
            ),
        ),
        ("STP trend per inbox", "Weekly STP rate by receive week.", chart["stp-trend"]),
        (
            "Accuracy per field",
            "All inboxes pooled, over each reviewed document's last evaluated prediction.",
            chart["field-accuracy"],
        ),
        (
            "Calibration",
            f"Share of atoms correct per confidence bucket (buckets of at least "
            f"{MIN_BUCKET_ATOMS} atoms); the weakest fields are shown, the others are one "
            "click away in the legend.",
            chart["calibration"]
            + _table(
                ["inbox", "threshold for 95% accuracy", "fields automated"],
                [
                    [str(r["inbox"]), num(r["threshold"], 0), pct(r["share_automated"])]
                    for r in report.rows("thresholds")
                ],
            ),
        ),
        (
            "Top automation blockers",
            "Documents flagged for review, by field and reason (missing mandatory field or "
            "confidence under the inbox threshold).",
            chart["blockers"],
        ),
        (
            "Review latency",
            "Hours from receipt to the human review, by month of receipt.",
            chart["latency"],
        ),
        (
            "Usage",
            "Documents and pages per inbox and month, beside the vendor's usage stream.",
            _table(
                ["inbox", "month", "documents", "pages", "vendor documents", "vendor pages"],
                [
                    [
                        str(r["inbox"]),
                        month(r["month"]),
                        num(r["documents"], 0),
                        num(r["pages"], 0),
                        num(r["vendor_documents"], 0),
                        num(r["vendor_pages"], 0),
                    ]
                    for r in report.rows("usage")
                ],
            ),
        ),
        (
            "Reconciliation with the vendor's stats",
            reconciliation_line(report),
            _table(
                ["stream", "metrics", "matching"],
                [
                    [str(r["stream"]), num(r["metrics"], 0), num(r["matching"], 0)]
                    for r in report.rows("reconciliation")
                ],
            ),
        ),
    ]


def render_html(report: Report) -> str:
    """The page as one string: no network needed to open it."""
    from plotly.offline import get_plotlyjs

    body = "".join(
        f'<section id="{html.escape(title.lower().replace(" ", "-"))}"><h2>{html.escape(title)}'
        f'</h2><p class="note">{html.escape(note)}</p>{content}</section>'
        for title, note, content in _sections(report)
    )
    total = report.row("reconciliation_total")
    status = "ok" if total["matching"] == total["metrics"] else "bad"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Contract.fit analytics</title>"
        f"<style>{_STYLE}</style><script>{get_plotlyjs()}</script></head><body>"
        "<header><h1>Contract.fit analytics</h1>"
        f"<p>Generated {report.generated_at.isoformat()} by source-contractfit {__version__}. "
        f'<span class="{status}">{html.escape(reconciliation_line(report))}</span></p></header>'
        f'<main><div class="cards">{_cards(report)}</div>{body}</main></body></html>'
    )
