"""The demo end to end, its report opened in headless Chromium, and the sql/report commands.

`contractfit demo` (emulator, protocol read, export, report) runs once as a subprocess;
the HTML it writes is loaded from disk with every network request refused, so the test
also proves the page is self-contained.
"""

from __future__ import annotations

import csv
import io
import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .browser import CHROMIUM_ARGS, chromium_executable

CHARTS = ("chart-stp-trend", "chart-volume", "chart-accuracy-weekly", "chart-field-accuracy",
          "chart-calibration", "chart-blockers",
          "chart-latency")  # fmt: skip


def contractfit(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "source_contractfit.cli.main", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    result = contractfit("demo", "--inboxes", "2", "--documents", "600", "--output", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Field accuracy (all inboxes, weakest first)" in result.stdout
    assert "Vendor stats reconciliation: all" in result.stdout
    assert f"HTML report written to {out / 'report.html'}" in result.stdout
    # The counts explain themselves: the read's derived records, the export's fewer ones.
    assert "of them are document_fields and document_line_items records" in result.stdout
    assert "The export reads each document once" in result.stdout
    # Views are named apart, not listed as tables with "0" Parquet rows.
    table_block = result.stdout.split("DuckDB rows", 1)[1].split("Analytics views", 1)
    assert len(table_block) == 2, result.stdout[-3000:]
    assert "field_accuracy" not in table_block[0] and "field_accuracy" in table_block[1]
    return out


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_report_renders_in_headless_chromium(demo: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    problems: list[str] = []
    requested: list[str] = []
    screenshot = tmp_path / "report.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.on(
            "console",
            lambda m: (
                problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

        def refuse(route: Any) -> None:
            requested.append(route.request.url)
            route.abort()

        page.route("http*://**", refuse)
        page.goto((demo / "report.html").as_uri())
        page.wait_for_selector("#chart-latency .main-svg", timeout=30_000)
        drawn = page.evaluate(
            """(ids) => ids.map((id) => {
                const el = document.getElementById(id);
                const svg = el && el.querySelector('svg.main-svg');
                const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
                const marks = el ? el.querySelectorAll(
                    '.scatterlayer .trace path, .scatterlayer .point, .barlayer .point'
                ).length : 0;
                return {id, width: box.width, height: box.height, marks};
            })""",
            list(CHARTS),
        )
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    for chart in drawn:
        assert chart["width"] > 300 and chart["height"] > 200, chart
        assert chart["marks"] > 0, f"{chart['id']} drew nothing"
    assert problems == []
    assert requested == [], "the report must open offline"
    data = screenshot.read_bytes()
    width, height = png_size(data)
    assert width == 1300 and height > 2000
    assert len(data) > 100_000  # a blank page of that size compresses to a few kB


def test_report_command_prints_the_summary(demo: Path) -> None:
    result = contractfit("report", "--duckdb", str(demo / "contractfit.duckdb"))
    assert result.returncode == 0, result.stderr
    for heading in ("Inboxes", "Top automation blockers", "Review latency"):
        assert heading in result.stdout
    assert "Vendor stats reconciliation: all" in result.stdout


def test_sql_command_formats(demo: Path) -> None:
    db = str(demo / "contractfit.duckdb")
    query = "SELECT inbox_id, sum(processed) AS processed FROM stp_daily GROUP BY 1 ORDER BY 1"
    as_csv = contractfit("sql", "--duckdb", db, "--format", "csv", query)
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(rows) == 2 and sum(int(r["processed"]) for r in rows) == 600
    as_json = contractfit("sql", "--duckdb", db, "--format", "json", query)
    assert [json.loads(line) for line in as_json.stdout.splitlines()] == [
        {"inbox_id": r["inbox_id"], "processed": int(r["processed"])} for r in rows
    ]
    table = contractfit("sql", "--duckdb", db, query)
    assert table.stdout.splitlines()[0].split() == ["inbox_id", "processed"]
    assert table.stdout.rstrip().endswith("(2 rows)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["SELEC 1"], 'syntax error at or near "SELEC"'),
        (["DELETE FROM documents"], "read-only mode"),
    ],
)
def test_sql_command_errors_are_one_line(demo: Path, args: list[str], message: str) -> None:
    result = contractfit("sql", "--duckdb", str(demo / "contractfit.duckdb"), *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_report_on_a_missing_file(tmp_path: Path) -> None:
    result = contractfit("report", "--duckdb", str(tmp_path / "none.duckdb"))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"contractfit report: DuckDB file {tmp_path / 'none.duckdb'} does not exist; "
        "run `contractfit export` first."
    )


def test_report_marks_partial_weeks_splits_blockers_and_draws_targets(
    demo: Path, tmp_path: Path
) -> None:
    """Each chart's data as plotly holds it in the page (Chromium): what misled is fixed,
    and the targets are lines and card colours."""
    from playwright.sync_api import sync_playwright

    page_path = tmp_path / "targets.html"
    made = contractfit(
        "report", "--duckdb", str(demo / "contractfit.duckdb"), "--html", str(page_path),
        "--target-stp", "0.6", "--target-accuracy", "0.95",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable(), args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.route("http*://**", lambda route: route.abort())
        page.goto(page_path.as_uri())
        page.wait_for_selector("#chart-latency .main-svg", timeout=30_000)
        charts = page.evaluate(
            """(ids) => Object.fromEntries(ids.map((id) => {
                const el = document.getElementById(id);
                return [id, {
                    traces: el.data.map((t) => ({name: t.name, symbol: t.marker && t.marker.symbol,
                        opacity: t.marker && t.marker.opacity,
                        colour: t.line && t.line.color, points: (t.x || []).length,
                        sizes: t.customdata ? t.customdata.length : 0})),
                    shapes: (el.layout.shapes || []).map((s) => [s.x0, s.y0]),
                    dtick: el.layout.xaxis && el.layout.xaxis.dtick,
                    axes: Object.keys(el.layout).filter((k) => k.startsWith('xaxis')).length,
                    marks: el.querySelectorAll('.scatterlayer .point, .barlayer .point').length,
                }];
            }))""",
            list(CHARTS),
        )
        coverage = page.inner_text("#coverage")
        cards = page.eval_on_selector_all(".card", "cs => cs.map((c) => c.className)")
        weeks = page.inner_text("#stp-trend-per-inbox table")
        backlog = page.inner_text("#volume-and-review-backlog table")
        widths = {}
        for width in (1400, 800):
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_timeout(500)  # plotly redraws on resize
            widths[width] = page.evaluate("document.documentElement.scrollWidth")
            page.screenshot(path=str(tmp_path / f"report-{width}.png"), full_page=True)
        browser.close()
    stp = charts["chart-stp-trend"]
    apart = [t for t in stp["traces"] if "partial week" in t["name"]]
    assert apart and all(t["symbol"] == "circle-open" for t in apart), stp["traces"]
    assert all(t["sizes"] == t["points"] for t in stp["traces"]), "every point has its size"
    assert [0, 0.6] in stp["shapes"] and stp["marks"] > 0  # the line at y = 0.6
    assert "(partial)" in weeks
    blockers = charts["chart-blockers"]
    assert {t["name"] for t in blockers["traces"]} == {"missing", "low_confidence"}
    assert blockers["axes"] == 2 and blockers["marks"] > 0
    accuracy = charts["chart-field-accuracy"]
    assert accuracy["traces"][-1]["name"] == "accuracy", "accuracy drawn on top"
    assert any(x == 0.95 for x, _ in accuracy["shapes"])
    colours = [t["colour"] for t in charts["chart-calibration"]["traces"][1:]]
    assert len(colours) == len(set(colours)) > 10, "a colour per field"
    volume = charts["chart-volume"]
    assert all(0.35 in t["opacity"] for t in volume["traces"]), "the partial week is faded"
    assert "to review" in backlog and "escalated" in backlog
    weekly = charts["chart-accuracy-weekly"]
    assert weekly["marks"] > 0 and [0, 0.95] in weekly["shapes"]
    assert any("partial week" in t["name"] and t["symbol"] == "circle-open"
               for t in weekly["traces"])  # fmt: skip
    latency = charts["chart-latency"]
    assert any(t["name"].endswith("p99") for t in latency["traces"])
    assert latency["dtick"] == "M1" and latency["marks"] > 0
    assert coverage.startswith("Documents received ") and "last export commit" in coverage
    assert sum(" met" in c or " missed" in c for c in cards) == 2
    for width in (1400, 800):  # nothing wider than the window at either width
        assert widths[width] <= width, widths
        assert png_size((tmp_path / f"report-{width}.png").read_bytes())[0] == width


def test_every_view_names_the_inbox_beside_its_id(demo: Path) -> None:
    from source_contractfit.analytics import VIEWS, connect

    con = connect(demo / "contractfit.duckdb")
    try:
        names = dict(con.execute("SELECT id, name FROM inboxes").fetchall())
        for view in VIEWS:
            columns = [row[0] for row in con.execute(f"DESCRIBE {view}").fetchall()]
            assert columns[:2] == ["inbox_id", "inbox_name"], (view, columns)
            pairs = con.execute(f"SELECT DISTINCT inbox_id, inbox_name FROM {view}").fetchall()
            assert pairs, view
            assert all(name == names[inbox] for inbox, name in pairs), (view, pairs)
    finally:
        con.close()
