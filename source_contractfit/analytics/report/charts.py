"""The report's plotly figures: STP trend, accuracy per field, calibration, blockers, latency.

Each figure draws rows of one report query as they are; the page embeds the returned
HTML fragments (no script tag for plotly.js itself, which the page inlines once).
"""

from __future__ import annotations

from typing import Any

from source_contractfit.analytics.report.cells import missing
from source_contractfit.analytics.report.queries import Report

_BELOW_LEGEND = {"orientation": "h", "y": -0.2}
_SIDE_LEGEND = {"orientation": "v", "x": 1.02, "y": 1}
POOLED = "__all_fields__"


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
    return [None if missing(v) else float(v) for v in values]


def _fields(report: Report) -> Any:
    """The per-field rows, weakest first, without the pooled row."""
    fields = report["fields"]
    return fields[fields["field_name"] != POOLED]


def charts(report: Report) -> dict[str, str]:
    """Chart id -> HTML of its plotly figure."""
    import plotly.graph_objects as go

    out: dict[str, str] = {}

    figure = go.Figure()
    for inbox, rows in report["stp_weekly"].groupby("inbox", sort=True):
        weeks = [str(w)[:10] for w in rows["week"]]
        figure.add_trace(
            go.Scatter(x=weeks, y=_floats(rows["stp_rate"]), mode="lines+markers", name=inbox)
        )
    figure.update_yaxes(title="STP rate", tickformat=".0%", range=[0, 1])
    figure.update_xaxes(title="week (UTC, receive time)")
    out["stp-trend"] = _figure_html(figure, "chart-stp-trend")

    fields = _fields(report)
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

    weakest = set(fields["field_name"].head(4))
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
    for field_name, rows in report["calibration"].groupby("field_name", sort=True):
        pooled = field_name == POOLED
        figure.add_trace(
            go.Scatter(
                x=[int(c) + 5 for c in rows["confidence_from"]],
                y=_floats(rows["accuracy"]),
                mode="lines+markers",
                name="all fields" if pooled else field_name,
                line={"width": 4 if pooled else 1.5},
                visible=True if pooled or field_name in weakest else "legendonly",
                customdata=list(rows["n"]),
                hovertemplate="confidence %{x}: accuracy %{y:.1%} (n=%{customdata})",
            )
        )
    figure.update_xaxes(title="machine confidence (bucket middle)", range=[0, 100])
    figure.update_yaxes(title="share correct", tickformat=".0%", range=[0, 1.02])
    out["calibration"] = _figure_html(figure, "chart-calibration", legend=_SIDE_LEGEND)

    figure = go.Figure()
    for reason, rows in report["blockers"].groupby("reason", sort=True):
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

    figure = go.Figure()
    for inbox, rows in report["latency_monthly"].groupby("inbox", sort=True):
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
