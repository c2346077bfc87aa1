"""The report as one self-contained HTML page: plotly.js inline, so it opens offline.

Headline cards, then one section per question (STP, accuracy per field, calibration,
blockers, latency, usage, reconciliation), each a note and a chart or a table.
"""

from __future__ import annotations

import html
from typing import Any

from source_contractfit import __version__
from source_contractfit.analytics.report.cells import missing, month, num, pct
from source_contractfit.analytics.report.charts import POOLED, charts
from source_contractfit.analytics.report.queries import MIN_BUCKET_ATOMS, Report
from source_contractfit.analytics.report.text import reconciliation_line
from source_contractfit.extras import require

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;
color:#1d2430}
header{background:#17324d;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;opacity:.8;font-size:13px}
main{padding:16px 32px;max-width:1280px;box-sizing:border-box}
section{overflow-x:auto}
section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08);
margin:16px 0;padding:16px 20px}
h2{font-size:17px;margin:0 0 4px}p.note{margin:0 0 8px;color:#5b6573;font-size:13px}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:12px 16px;
min-width:150px}.card b{display:block;font-size:24px}.card span{font-size:12px;color:#5b6573}
.card.met{border-left:5px solid #2e9e5b}.card.missed{border-left:5px solid #d0453a}
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
    accuracy = pooled["accuracy"].iloc[0] if len(pooled) else None
    targets = report.targets
    cards = [
        ("documents processed", num(totals["documents"], 0), ""),
        (
            "straight through",
            pct(totals["stp_rate"]),
            _against(totals["stp_rate"], targets.get("stp")),
        ),
        ("documents reviewed and judged", num(totals["documents_evaluated"], 0), ""),
        ("field accuracy", pct(accuracy), _against(accuracy, targets.get("accuracy"))),
        ("field F1", pct(pooled["f1"].iloc[0] if len(pooled) else None), ""),
    ]
    return "".join(
        f'<div class="card{css}"><b>{html.escape(v)}</b><span>{html.escape(k)}</span></div>'
        for k, v, css in cards
    )


def _against(value: Any, target: float | None) -> str:
    """The card's class against its target: met, missed, or none (no target, no value)."""
    if target is None or missing(value):
        return ""
    return " met" if float(value) >= target else " missed"


def _coverage(report: Report) -> str:
    """What the data covers and when it was last brought up to date."""
    span = report.row("span")
    if not span["documents"]:
        return "No documents exported yet."
    first, last = str(span["first_received"])[:10], str(span["last_received"])[:10]
    line = f"Documents received {first} to {last} ({num(span['documents'], 0)})"
    if not missing(span["last_commit_at"]):
        line += f"; last export commit {span['last_commit_at']}"
    return line + "."


def _recent_weeks(report: Report) -> str:
    """The last four weeks per inbox with their sample sizes, partial ones marked."""
    frame = report["stp_weekly"]
    rows = []
    for inbox, weeks in frame.groupby("inbox", sort=True):
        for r in weeks.tail(4).to_dict("records"):
            mark = " (partial)" if r["partial"] else " (few documents)" if r["small"] else ""
            rows.append(
                [str(inbox), str(r["week"])[:10] + mark, num(r["processed"], 0), pct(r["stp_rate"])]
            )
    return _table(["inbox", "week", "documents", "STP"], rows)


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
        (
            "STP trend per inbox",
            "Weekly STP rate by receive week. A week the data holds only part of (the "
            "current one) or one of few documents is a hollow marker off the line; hover "
            "for each week's documents. The table: the last four weeks.",
            chart["stp-trend"] + _recent_weeks(report),
        ),
        (
            "Volume and review backlog",
            "Documents received per week (a partial week is faded), and the documents "
            "waiting now by status, from the exported documents beside the vendor's volume "
            "stream.",
            chart["volume"]
            + _table(
                ["inbox", "status", "documents", "vendor's count"],
                [
                    [
                        str(r["inbox"]),
                        str(r["status"]).replace("_", " "),
                        num(r["documents"], 0),
                        num(r["vendor_documents"], 0),
                    ]
                    for r in report.rows("backlog")
                ],
            ),
        ),
        (
            "Field accuracy per inbox, weekly",
            "Every field pooled, per receive week: a model change or a drift shows as a step. "
            "A partial week, or one of few judged fields, is a hollow marker off the line.",
            chart["accuracy-weekly"],
        ),
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
            "Hours from receipt to the human review, by month of receipt (median, p95, "
            "p99). The table: all history, with the machine's processing time.",
            chart["latency"]
            + _table(
                [
                    "inbox",
                    "reviewed",
                    "review p50 (h)",
                    "p95 (h)",
                    "p99 (h)",
                    "processing p50 (s)",
                    "processing p95 (s)",
                ],
                [
                    [
                        str(r["inbox"]),
                        num(r["reviewed"], 0),
                        num(r["p50_hours"], 1),
                        num(r["p95_hours"], 1),
                        num(r["p99_hours"], 1),
                        num(r["processing_p50"], 1),
                        num(r["processing_p95"], 1),
                    ]
                    for r in report.rows("times")
                ],
            ),
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
    require("the HTML report", "report")
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
        f'<p id="coverage">{html.escape(_coverage(report))}</p>'
        f"<p>Generated {report.generated_at.isoformat()} by source-contractfit {__version__}. "
        f'<span class="{status}">{html.escape(reconciliation_line(report))}</span></p></header>'
        f'<main><div class="cards">{_cards(report)}</div>{body}</main></body></html>'
    )
