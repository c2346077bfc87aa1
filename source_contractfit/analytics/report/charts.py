"""The report's plotly figures: STP trend, accuracy per field, calibration, blockers, latency.

Each figure draws rows of one report query as they are; the page embeds the returned
HTML fragments (no script tag for plotly.js itself, which the page inlines once).
"""

from __future__ import annotations

from typing import Any

from source_contractfit.analytics.report.cells import missing
from source_contractfit.analytics.report.queries import MIN_WEEK_DOCUMENTS, Report

_BELOW_LEGEND = {"orientation": "h", "y": -0.2}
# A week whose accuracy rests on fewer judged fields than this is drawn apart.
MIN_WEEK_ATOMS = 50
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

    out["stp-trend"] = _stp_trend(report, go)

    fields = _fields(report)
    figure = go.Figure()
    # Accuracy last, so that its filled markers lie on top of the hollow ones of the other
    # measures (recall often equals it and hid it).
    symbols = {
        "precision": "diamond-open",
        "recall": "square-open",
        "f1": "star-open",
        "accuracy": "circle",
    }
    for metric, symbol in symbols.items():
        figure.add_trace(
            go.Scatter(
                y=list(fields["field_name"]),
                x=_floats(fields[metric]),
                name=metric,
                mode="markers",
                marker={"symbol": symbol, "size": 9 if metric == "accuracy" else 12},
            )
        )
    if "accuracy" in report.targets:
        figure.add_vline(
            x=report.targets["accuracy"], line_dash="dot", line_color="#d0453a",
            annotation_text=f"target {report.targets['accuracy']:.0%}",
        )  # fmt: skip
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
    palette = _distinct_colours()
    for index, (field_name, rows) in enumerate(
        report["calibration"].groupby("field_name", sort=True)
    ):
        pooled = field_name == POOLED
        colour = "#17324d" if pooled else palette[index % len(palette)]
        figure.add_trace(
            go.Scatter(
                x=[int(c) + 5 for c in rows["confidence_from"]],
                y=_floats(rows["accuracy"]),
                mode="lines+markers",
                name="all fields" if pooled else field_name,
                line={"width": 4 if pooled else 1.5, "color": colour},
                visible=True if pooled or field_name in weakest else "legendonly",
                customdata=list(rows["n"]),
                hovertemplate="confidence %{x}: accuracy %{y:.1%} (n=%{customdata})",
            )
        )
    figure.update_xaxes(title="machine confidence (bucket middle)", range=[0, 100])
    figure.update_yaxes(title="share correct", tickformat=".0%", range=[0, 1.02])
    out["calibration"] = _figure_html(figure, "chart-calibration", legend=_SIDE_LEGEND)

    out["blockers"] = _blockers(report)
    out["volume"] = _volume(report, go)
    out["accuracy-weekly"] = _accuracy_weekly(report, go)
    out["latency"] = _latency(report, go)
    return out


REASONS = {"missing": "mandatory field missing", "low_confidence": "confidence under threshold"}


def _blockers(report: Report) -> str:
    """One panel per reason, each its fields by documents blocked: a reason that blocks
    fewer documents is still seen (it fell off a list of the top pairs)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    reasons = [r for r in REASONS if r in set(report["blockers"]["reason"])]
    reasons += sorted(set(report["blockers"]["reason"]) - set(reasons))
    figure = make_subplots(
        rows=1,
        cols=max(1, len(reasons)),
        subplot_titles=[REASONS.get(r, r) for r in reasons] or ["no blockers"],
        horizontal_spacing=0.25,
    )
    for column, reason in enumerate(reasons, start=1):
        rows = report["blockers"][report["blockers"]["reason"] == reason]
        figure.add_trace(
            go.Bar(
                y=list(rows["field_name"]),
                x=[int(v) for v in rows["documents"]],
                name=reason,
                orientation="h",
                showlegend=False,
                hovertemplate="%{y}: %{x} documents<extra>"
                + REASONS.get(reason, reason)
                + "</extra>",
            ),
            row=1,
            col=column,
        )
        figure.update_yaxes(categoryorder="total ascending", row=1, col=column)
        figure.update_xaxes(title="documents blocked", row=1, col=column)
    return _figure_html(figure, "chart-blockers")


def _latency(report: Report, go: Any) -> str:
    """Median, p95 and p99 review latency per month of receipt: straight segments between
    monthly points, one tick a month."""
    figure = go.Figure()
    dashes = {"p50_hours": "solid", "p95_hours": "dash", "p99_hours": "dot"}
    for inbox, rows in report["latency_monthly"].groupby("inbox", sort=True):
        months = [str(m)[:10] for m in rows["month"]]
        for column, dash in dashes.items():
            figure.add_trace(
                go.Scatter(
                    x=months,
                    y=_floats(rows[column]),
                    mode="lines+markers",
                    line={"dash": dash, "shape": "linear"},
                    name=f"{inbox} {column.split('_')[0]}",
                    customdata=list(rows["reviewed"]),
                    hovertemplate="%{x|%Y-%m}: %{y:.1f} h (%{customdata} reviewed)",
                )
            )
    figure.update_yaxes(title="hours from receipt to review")
    figure.update_xaxes(title="month of receipt", dtick="M1", tickformat="%Y-%m")
    return _figure_html(figure, "chart-latency")


def _stp_trend(report: Report, go: Any) -> str:
    """Weekly STP per inbox. A week that is partial in the data (the current one) or holds
    too few documents is a hollow marker off the line, with its size on hover, so that
    three documents of an unfinished week never look like a collapse."""
    figure = go.Figure()
    for inbox, rows in report["stp_weekly"].groupby("inbox", sort=True):
        weeks = [str(w)[:10] for w in rows["week"]]
        shaky = [bool(p) or bool(s) for p, s in zip(rows["partial"], rows["small"], strict=True)]
        rates = _floats(rows["stp_rate"])
        counts = [int(n) for n in rows["processed"]]
        apart = f"partial week or under {MIN_WEEK_DOCUMENTS} documents"
        value = "%{y:.0%} of %{customdata} documents"
        _weekly(figure, go, inbox, (weeks, rates, counts, shaky), apart, value)
    if "stp" in report.targets:
        figure.add_hline(
            y=report.targets["stp"], line_dash="dot", line_color="#d0453a",
            annotation_text=f"target {report.targets['stp']:.0%}",
        )  # fmt: skip
    figure.update_yaxes(title="STP rate", tickformat=".0%", range=[0, 1])
    figure.update_xaxes(title="week (UTC, receive time)")
    return _figure_html(figure, "chart-stp-trend")


def _volume(report: Report, go: Any) -> str:
    """Documents received per week, stacked by inbox; a partial week is drawn faded."""
    figure = go.Figure()
    for inbox, rows in report["volume_weekly"].groupby("inbox", sort=True):
        partial = [bool(p) for p in rows["partial"]]
        figure.add_trace(
            go.Bar(
                x=[str(w)[:10] for w in rows["week"]],
                y=[int(n) for n in rows["documents"]],
                name=inbox,
                marker={"opacity": [0.35 if p else 1.0 for p in partial]},
                customdata=["partial week" if p else "" for p in partial],
                hovertemplate="week of %{x}: %{y} documents %{customdata}",
            )
        )
    figure.update_layout(barmode="stack")
    figure.update_yaxes(title="documents received")
    figure.update_xaxes(title="week (UTC, receive time)")
    return _figure_html(figure, "chart-volume", height=360)


def _accuracy_weekly(report: Report, go: Any) -> str:
    """Field accuracy per inbox and week; a partial week, or one of few evaluated atoms,
    is a hollow marker off the line (a model change shows as a step, not as noise)."""
    figure = go.Figure()
    for inbox, rows in report["accuracy_weekly"].groupby("inbox", sort=True):
        weeks = [str(w)[:10] for w in rows["week"]]
        rates = _floats(rows["accuracy"])
        counts = [int(n) for n in rows["n"]]
        few = [n < MIN_WEEK_ATOMS or bool(p) for n, p in zip(counts, rows["partial"], strict=True)]
        apart = f"partial week or under {MIN_WEEK_ATOMS} fields judged"
        value = "%{y:.1%} of %{customdata} fields"
        _weekly(figure, go, inbox, (weeks, rates, counts, few), apart, value)
    if "accuracy" in report.targets:
        figure.add_hline(y=report.targets["accuracy"], line_dash="dot", line_color="#d0453a")
    figure.update_yaxes(title="field accuracy", tickformat=".0%")
    figure.update_xaxes(title="week (UTC, receive time)")
    return _figure_html(figure, "chart-accuracy-weekly", height=360)


def _weekly(
    figure: Any,
    go: Any,
    inbox: str,
    series: tuple[list[str], list[float | None], list[int], list[bool]],
    apart_name: str,
    value: str,
) -> None:
    """One inbox's weekly rate: a line through its sound weeks, and the shaky ones
    (partial, or resting on few cases) as hollow markers off it; sizes on hover."""
    weeks, rates, counts, shaky = series
    figure.add_trace(
        go.Scatter(
            x=weeks,
            y=[None if s else r for r, s in zip(rates, shaky, strict=True)],
            mode="lines+markers",
            name=inbox,
            legendgroup=inbox,
            customdata=counts,
            hovertemplate="week of %{x}: " + value,
        )
    )
    apart = [i for i, s in enumerate(shaky) if s]
    if apart:
        figure.add_trace(
            go.Scatter(
                x=[weeks[i] for i in apart],
                y=[rates[i] for i in apart],
                mode="markers",
                name=f"{inbox}: {apart_name}",
                legendgroup=inbox,
                marker={"symbol": "circle-open", "size": 10},
                customdata=[counts[i] for i in apart],
                hovertemplate="week of %{x} (" + apart_name + "): " + value,
            )
        )


def _distinct_colours() -> list[str]:
    """26 colours that differ from each other (plotly's default cycles ten: with 16 fields,
    two fields shared a colour)."""
    from plotly.colors import qualitative

    return list(qualitative.Alphabet)
