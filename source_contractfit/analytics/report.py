"""`contractfit report`: what the analytics views say, in a terminal and in one HTML file.

Every number comes from a SELECT over the views and macros of `sql/` (the queries below
only pool inboxes or pick columns); this module formats. The HTML file embeds plotly.js,
so it opens offline, and draws the charts people ask for: STP per inbox over time, accuracy
per field, calibration curves, top blockers and review latency.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from source_contractfit import __version__

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

# Calibration points from fewer atoms than this are noise, not a curve.
MIN_BUCKET_ATOMS = 10

QUERIES: dict[str, str] = {
    # One row per inbox: volume, STP, sampled true STP, document and field accuracy.
    "overview": """
        SELECT coalesce(i.name, s.inbox_id) AS inbox, s.inbox_id, s.processed AS documents,
            s.stp, s.rate AS stp_rate, s.sampled, s.true_stp_rate,
            d.documents_evaluated, d.rate AS document_accuracy,
            f.accuracy AS field_accuracy, f.f1 AS field_f1
        FROM stp_by('all') AS s
        LEFT JOIN document_accuracy_by('all') AS d USING (inbox_id)
        LEFT JOIN (SELECT * FROM field_accuracy_by('all') WHERE field_name = '__all_fields__')
            AS f USING (inbox_id)
        LEFT JOIN inboxes AS i ON i.id = s.inbox_id
        ORDER BY inbox
    """,
    "stp_weekly": """
        SELECT coalesce(i.name, s.inbox_id) AS inbox, s.period_start AS week, s.processed,
            s.rate AS stp_rate, s.true_stp_rate
        FROM stp_by('week') AS s LEFT JOIN inboxes AS i ON i.id = s.inbox_id
        ORDER BY inbox, week
    """,
    # Every inbox pooled: sum the counts, then take the ratios.
    "fields": """
        SELECT field_name, sum(n)::BIGINT AS n, sum(tp)::BIGINT AS tp, sum(fp)::BIGINT AS fp,
            sum(fn)::BIGINT AS fn, sum(tn)::BIGINT AS tn,
            cf_ratio(sum(correct), sum(n)) AS accuracy,
            cf_ratio(sum(tp), sum(tp) + sum(fp)) AS precision,
            cf_ratio(sum(tp), sum(tp) + sum(fn)) AS recall,
            cf_ratio(2 * sum(tp), 2 * sum(tp) + sum(fp) + sum(fn)) AS f1
        FROM field_accuracy_by('all')
        GROUP BY field_name
        ORDER BY field_name = '__all_fields__', f1 NULLS FIRST, field_name
    """,
    "calibration": """
        SELECT field_name, confidence_from, sum(n)::BIGINT AS n,
            cf_ratio(sum(correct), sum(n)) AS accuracy
        FROM confidence_calibration
        GROUP BY ALL
        ORDER BY field_name, confidence_from
    """,
    "blockers": """
        SELECT field_name, reason, sum(documents)::BIGINT AS documents,
            cf_ratio(sum(documents), (SELECT count_if(flag_for_review) FROM documents))
                AS share_of_blocked
        FROM automation_blockers
        GROUP BY ALL
        ORDER BY documents DESC, field_name, reason
        LIMIT 15
    """,
    "thresholds": """
        SELECT coalesce(i.name, t.inbox_id) AS inbox, t.field_name, t.threshold,
            t.share_automated
        FROM confidence_threshold_for(p_target := 0.95) AS t
        LEFT JOIN inboxes AS i ON i.id = t.inbox_id
        WHERE t.field_name = '__all_fields__'
        ORDER BY inbox
    """,
    "latency": """
        SELECT coalesce(i.name, r.inbox_id) AS inbox, r.month, r.reviewed, r.p50_hours,
            r.p95_hours, r.p99_hours
        FROM review_latency AS r LEFT JOIN inboxes AS i ON i.id = r.inbox_id
        ORDER BY inbox, r.month NULLS FIRST
    """,
    "processing": """
        SELECT coalesce(i.name, p.inbox_id) AS inbox, p.count, p.mean, p.p50, p.p95, p.p99
        FROM processing_times AS p LEFT JOIN inboxes AS i ON i.id = p.inbox_id
        WHERE p.page_count IS NULL
        ORDER BY inbox
    """,
    "usage": """
        SELECT coalesce(i.name, u.inbox_id) AS inbox, u.month, u.documents, u.pages,
            u.vendor_documents, u.vendor_pages
        FROM usage_monthly AS u LEFT JOIN inboxes AS i ON i.id = u.inbox_id
        ORDER BY inbox, u.month
    """,
    "reconciliation": """
        SELECT stream, count(*) AS metrics, count_if(matches) AS matching,
            max(abs(difference)) AS max_abs_difference
        FROM stats_reconciliation
        GROUP BY stream
        ORDER BY stream
    """,
}


@dataclass
class Report:
    frames: dict[str, pd.DataFrame]
    generated_at: datetime

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.frames[name]


def build(con: duckdb.DuckDBPyConnection) -> Report:
    """Run every report query; the connection needs the analytics views (analytics.connect)."""
    frames = {name: con.execute(sql).df() for name, sql in QUERIES.items()}
    return Report(frames, datetime.now(timezone.utc).replace(microsecond=0))


# ------------------------------------------------------------------ formatting


def _missing(value: Any) -> bool:
    try:
        import pandas as pd

        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def pct(value: Any) -> str:
    return "-" if _missing(value) else f"{100 * float(value):.1f}%"


def num(value: Any, digits: int = 1) -> str:
    if _missing(value):
        return "-"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and digits == 0):
        return f"{int(value):,}"
    return f"{float(value):,.{digits}f}"


def _day(value: Any) -> str:
    return "all" if _missing(value) else str(value)[:10]


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return list(frame.to_dict("records"))


def render_text(report: Report) -> str:
    """The terminal summary: the numbers an operations lead asks for first."""
    parts = [f"Contract.fit analytics (generated {report.generated_at.isoformat()})", ""]
    overview = _rows(report["overview"])
    parts.append("Inboxes")
    parts.append(
        text_table(
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
                for r in overview
            ],
        )
    )
    parts += ["", "Field accuracy (all inboxes, weakest first)"]
    parts.append(
        text_table(
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
                for r in _rows(report["fields"])
            ],
        )
    )
    parts += ["", "Top automation blockers (documents flagged for review)"]
    parts.append(
        text_table(
            ["field", "reason", "documents", "of blocked"],
            [
                [
                    str(r["field_name"]),
                    str(r["reason"]),
                    num(r["documents"], 0),
                    pct(r["share_of_blocked"]),
                ]
                for r in _rows(report["blockers"])
            ],
        )
    )
    parts += ["", "Confidence threshold for 95% accuracy on automated fields"]
    parts.append(
        text_table(
            ["inbox", "threshold", "fields automated"],
            [
                [str(r["inbox"]), num(r["threshold"], 0), pct(r["share_automated"])]
                for r in _rows(report["thresholds"])
            ],
        )
    )
    parts += ["", "Review latency (receive to feedback) and processing time, all history"]
    latency = {r["inbox"]: r for r in _rows(report["latency"]) if _missing(r["month"])}
    processing = {r["inbox"]: r for r in _rows(report["processing"])}
    parts.append(
        text_table(
            ["inbox", "reviewed", "p50 h", "p95 h", "p99 h", "proc p50 s", "proc p95 s"],
            [
                [
                    str(inbox),
                    num(latency.get(inbox, {}).get("reviewed"), 0),
                    num(latency.get(inbox, {}).get("p50_hours")),
                    num(latency.get(inbox, {}).get("p95_hours")),
                    num(latency.get(inbox, {}).get("p99_hours")),
                    num(processing.get(inbox, {}).get("p50")),
                    num(processing.get(inbox, {}).get("p95")),
                ]
                for inbox in sorted(set(latency) | set(processing))
            ],
        )
    )
    parts += ["", reconciliation_line(report)]
    return "\n".join(parts)


def reconciliation_counts(report: Report) -> tuple[int, int, int]:
    """(vendor streams compared, metrics compared, metrics matching)."""
    rows = _rows(report["reconciliation"])
    total = sum(int(r["metrics"]) for r in rows)
    return len(rows), total, sum(int(r["matching"]) for r in rows)


def reconciliation_line(report: Report) -> str:
    streams, total, matching = reconciliation_counts(report)
    if not streams:
        return "Vendor stats reconciliation: no stats_* streams exported, nothing to compare."
    if matching == total:
        return (
            f"Vendor stats reconciliation: all {total:,} metrics of {streams} streams "
            "match our own numbers."
        )
    return (
        f"Vendor stats reconciliation: {total - matching:,} of {total:,} metrics differ; "
        "see `SELECT * FROM stats_reconciliation WHERE NOT matches`."
    )


# ------------------------------------------------------------------ HTML

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


def _html_table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_BELOW_LEGEND = {"orientation": "h", "y": -0.2}
_SIDE_LEGEND = {"orientation": "v", "x": 1.02, "y": 1}


def _figure_html(
    figure: Any, div_id: str, height: int = 420, legend: dict[str, Any] = _BELOW_LEGEND
) -> str:
    figure.update_layout(
        margin={"l": 130, "r": 20, "t": 30, "b": 60},
        template="plotly_white",
        height=height,
        legend=legend,
    )
    return str(
        figure.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            config={"displaylogo": False, "responsive": True},
        )
    )


def _floats(values: Any) -> list[float | None]:
    out: list[float | None] = []
    for v in values:
        out.append(None if _missing(v) else float(v))
    return out


def charts(report: Report) -> dict[str, str]:
    """Chart id -> HTML of a plotly figure (no script tag for plotly.js itself)."""
    import plotly.graph_objects as go

    out: dict[str, str] = {}

    stp = report["stp_weekly"]
    figure = go.Figure()
    for inbox, rows in stp.groupby("inbox", sort=True):
        weeks = [str(w)[:10] for w in rows["week"]]
        figure.add_trace(
            go.Scatter(x=weeks, y=_floats(rows["stp_rate"]), mode="lines+markers", name=inbox)
        )
    figure.update_yaxes(title="STP rate", tickformat=".0%", range=[0, 1])
    figure.update_xaxes(title="week (UTC, receive time)")
    out["stp-trend"] = _figure_html(figure, "chart-stp-trend")

    fields = report["fields"]
    fields = fields[fields["field_name"] != "__all_fields__"]
    figure = go.Figure()
    symbols = {"accuracy": "circle", "precision": "diamond", "recall": "square", "f1": "star"}
    for metric, symbol in symbols.items():
        figure.add_trace(
            go.Scatter(
                y=list(fields["field_name"]),
                x=_floats(fields[metric]),
                name=metric,
                mode="markers",
                marker={"symbol": symbol, "size": 11 if metric == "f1" else 8},
            )
        )
    figure.update_xaxes(tickformat=".0%", title="all inboxes pooled")
    height = max(420, 24 * len(fields) + 140)
    out["field-accuracy"] = _figure_html(figure, "chart-field-accuracy", height)

    calibration = report["calibration"]
    calibration = calibration[calibration["n"] >= MIN_BUCKET_ATOMS]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[0, 100],
            y=[0, 1],
            mode="lines",
            name="perfectly calibrated",
            line={"dash": "dot", "color": "#999"},
        )
    )
    for field_name, rows in calibration.groupby("field_name", sort=True):
        pooled = field_name == "__all_fields__"
        figure.add_trace(
            go.Scatter(
                x=[int(c) + 5 for c in rows["confidence_from"]],
                y=_floats(rows["accuracy"]),
                mode="lines+markers",
                name="all fields" if pooled else field_name,
                line={"width": 4 if pooled else 1.5},
                visible=True if pooled or field_name in _weakest(report, 4) else "legendonly",
                customdata=list(rows["n"]),
                hovertemplate="confidence %{x}: accuracy %{y:.1%} (n=%{customdata})",
            )
        )
    figure.update_xaxes(title="machine confidence (bucket middle)", range=[0, 100])
    figure.update_yaxes(title="share correct", tickformat=".0%", range=[0, 1.02])
    out["calibration"] = _figure_html(figure, "chart-calibration", legend=_SIDE_LEGEND)

    blockers = report["blockers"]
    figure = go.Figure()
    for reason, rows in blockers.groupby("reason", sort=True):
        figure.add_trace(
            go.Bar(
                y=list(rows["field_name"]),
                x=[int(v) for v in rows["documents"]],
                name=reason,
                orientation="h",
            )
        )
    figure.update_layout(barmode="stack")
    figure.update_xaxes(title="documents blocked")
    figure.update_yaxes(categoryorder="total ascending")
    out["blockers"] = _figure_html(figure, "chart-blockers")

    latency = report["latency"]
    monthly = latency[latency["month"].notna()]
    figure = go.Figure()
    for inbox, rows in monthly.groupby("inbox", sort=True):
        months = [str(m)[:7] for m in rows["month"]]
        figure.add_trace(
            go.Scatter(
                x=months, y=_floats(rows["p50_hours"]), mode="lines+markers", name=f"{inbox} p50"
            )
        )
        figure.add_trace(
            go.Scatter(
                x=months,
                y=_floats(rows["p95_hours"]),
                mode="lines",
                name=f"{inbox} p95",
                line={"dash": "dash"},
            )
        )
    figure.update_yaxes(title="hours from receipt to review")
    figure.update_xaxes(title="month of receipt")
    out["latency"] = _figure_html(figure, "chart-latency")
    return out


def _weakest(report: Report, count: int) -> set[str]:
    fields = report["fields"]
    fields = fields[fields["field_name"] != "__all_fields__"]
    return set(fields["field_name"].head(count))


def render_html(report: Report) -> str:
    """One self-contained HTML page: plotly.js inline, no network needed to open it."""
    from plotly.offline import get_plotlyjs

    overview = _rows(report["overview"])
    documents = sum(int(r["documents"]) for r in overview)
    stp = sum(int(r["stp"]) for r in overview)
    evaluated = sum(
        0 if _missing(r["documents_evaluated"]) else int(r["documents_evaluated"]) for r in overview
    )
    all_fields = report["fields"][report["fields"]["field_name"] == "__all_fields__"]
    field_acc = all_fields["accuracy"].iloc[0] if len(all_fields) else None
    field_f1 = all_fields["f1"].iloc[0] if len(all_fields) else None
    cards = [
        ("documents processed", num(documents, 0)),
        ("straight through", pct(stp / documents if documents else None)),
        ("documents reviewed and judged", num(evaluated, 0)),
        ("field accuracy", pct(field_acc)),
        ("field F1", pct(field_f1)),
    ]
    chart = charts(report)
    reconciliation = reconciliation_line(report)
    _streams, total, matching = reconciliation_counts(report)
    sections = [
        (
            "Inboxes",
            "STP: share of documents not flagged for review. True STP: STP rate times the share "
            "of sampled STP documents a reviewer found fully correct.",
            _html_table(
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
                    for r in overview
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
            + _html_table(
                ["inbox", "threshold for 95% accuracy", "fields automated"],
                [
                    [str(r["inbox"]), num(r["threshold"], 0), pct(r["share_automated"])]
                    for r in _rows(report["thresholds"])
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
            _html_table(
                ["inbox", "month", "documents", "pages", "vendor documents", "vendor pages"],
                [
                    [
                        str(r["inbox"]),
                        _day(r["month"])[:7],
                        num(r["documents"], 0),
                        num(r["pages"], 0),
                        num(r["vendor_documents"], 0),
                        num(r["vendor_pages"], 0),
                    ]
                    for r in _rows(report["usage"])
                ],
            ),
        ),
        (
            "Reconciliation with the vendor's stats",
            reconciliation,
            _html_table(
                ["stream", "metrics", "matching"],
                [
                    [str(r["stream"]), num(r["metrics"], 0), num(r["matching"], 0)]
                    for r in _rows(report["reconciliation"])
                ],
            ),
        ),
    ]
    body = "".join(
        f'<section id="{html.escape(title.lower().replace(" ", "-"))}"><h2>{html.escape(title)}'
        f'</h2><p class="note">{html.escape(note)}</p>{content}</section>'
        for title, note, content in sections
    )
    card_html = "".join(
        f'<div class="card"><b>{html.escape(v)}</b><span>{html.escape(k)}</span></div>'
        for k, v in cards
    )
    status = "ok" if matching == total else "bad"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Contract.fit analytics</title>"
        f"<style>{_STYLE}</style><script>{get_plotlyjs()}</script></head><body>"
        "<header><h1>Contract.fit analytics</h1>"
        f"<p>Generated {report.generated_at.isoformat()} by source-contractfit {__version__}. "
        f'<span class="{status}">{html.escape(reconciliation)}</span></p></header>'
        f'<main><div class="cards">{card_html}</div>{body}</main></body></html>'
    )


def run_report(duckdb_path: str, html_path: str | None) -> int:
    """`contractfit report`: print the summary; with `html_path`, write the HTML page too."""
    from pathlib import Path

    from source_contractfit.analytics.frames import connect_or_say

    con = connect_or_say(duckdb_path, "report")
    if con is None:
        return 2
    try:
        report = build(con)
    finally:
        con.close()
    print(render_text(report))
    if html_path:
        target = Path(html_path)
        partial = target.with_name(f".{target.name}.partial")
        partial.write_text(render_html(report), encoding="utf-8")
        partial.replace(target)  # never a half-written report under the real name
        print(f"\nHTML report written to {target}")
    return 0
