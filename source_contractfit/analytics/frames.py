"""The analytics layer: SQL views and macros in `sql/*.sql`, and DataFrames for notebooks.

The definitions live in SQL, created in the DuckDB file by the exporter, so dashboards and
`contractfit sql` read the same numbers as this API. Each function here is one SELECT of a
view or macro, returned as a pandas DataFrame:

    import duckdb
    from source_contractfit import analytics
    con = analytics.connect("contractfit.duckdb")
    analytics.field_accuracy(con, period="month")
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from source_contractfit.api.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

VIEWS = (
    "field_accuracy",
    "document_accuracy",
    "stp_daily",
    "automation_blockers",
    "confidence_calibration",
    "processing_times",
    "review_latency",
    "usage_monthly",
    "stats_reconciliation",
)
PERIODS = ("day", "week", "month", "quarter", "year", "all")
# Tables the SQL reads: a DuckDB file holding all of them can carry the views.
TABLES = (
    "documents", "document_versions", "fields", "sections", "inboxes", "usage",
    "stats_fields", "stats_accuracy", "stats_stp", "stats_automation_blockers",
    "stats_processing", "stats_volume",
)  # fmt: skip


def sql_files() -> list[tuple[str, str]]:
    """(file name, text) of every analytics SQL file, in the order they must run."""
    folder = resources.files("source_contractfit.analytics") / "sql"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name, (folder / name).read_text(encoding="utf-8")) for name in names]


def install(con: duckdb.DuckDBPyConnection, temporary: bool = False) -> None:
    """Create (or replace) every view and macro; `temporary` for a read-only database."""
    for name, text in sql_files():
        if temporary:
            text = text.replace("CREATE OR REPLACE VIEW", "CREATE OR REPLACE TEMP VIEW")
            text = text.replace("CREATE OR REPLACE MACRO", "CREATE OR REPLACE TEMP MACRO")
        try:
            con.execute(text)
        except duckdb.Error as error:
            raise ConfigError(f"Analytics SQL {name} failed: {error}") from error


def installed(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether this database (or session) has every view of the analytics layer."""
    rows = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal AND view_name IN "
        f"({', '.join('?' for _ in VIEWS)})",
        list(VIEWS),
    ).fetchall()
    return {name for (name,) in rows} == set(VIEWS)


def connect(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Open an exported DuckDB file read-only, with the analytics views available.

    A file written by an older exporter gets the current views as session-only objects;
    nothing in the file is changed.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"DuckDB file {path} does not exist; run `contractfit export` first.")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        raise ConfigError(f"Cannot open DuckDB file {path}: {error}") from None
    missing = [
        t
        for t in ("documents", "fields", "document_versions")
        if not con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = ?", [t]).fetchall()
    ]
    if missing:
        con.close()
        raise ConfigError(
            f"{path} is not a contractfit export (no table {', '.join(missing)}); "
            "run `contractfit export --duckdb` to create it."
        )
    if not installed(con):
        install(con, temporary=True)
    return con


def connect_or_say(path: str | Path, command: str) -> duckdb.DuckDBPyConnection | None:
    """connect(), or None after one line on stderr naming the command (for the CLI)."""
    try:
        return connect(path)
    except ConfigError as error:
        print(f"contractfit {command}: {error.message}", file=sys.stderr)
        return None


def _timestamp(value: str | datetime | None) -> datetime | None:
    """A window bound as an aware UTC datetime (a date or naive time is taken as UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> pd.DataFrame:
    return con.execute(sql, params).df()


def _period(period: str) -> str:
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    return period


def _by(
    con: duckdb.DuckDBPyConnection,
    macro: str,
    period: str,
    version: str | None,
    start: str | datetime | None,
    end: str | datetime | None,
    order: str,
) -> pd.DataFrame:
    version_arg = "p_version := ?, " if version is not None else ""
    params: list[Any] = [_period(period)]
    if version is not None:
        params.append(version)
    params += [_timestamp(start), _timestamp(end)]
    sql = (
        f"SELECT * FROM {macro}(?, {version_arg}p_start := ?::TIMESTAMPTZ, "
        f"p_end := ?::TIMESTAMPTZ) ORDER BY {order}"
    )
    return _frame(con, sql, params)


def field_accuracy(
    con: duckdb.DuckDBPyConnection,
    period: str = "all",
    version: str = "predicted",
    start: str | datetime | None = None,
    end: str | datetime | None = None,
) -> pd.DataFrame:
    """n, tp, fp, fn, tn, accuracy, precision, recall, f1 per inbox, period and field."""
    order = "inbox_id, period_start NULLS FIRST, field_name"
    return _by(con, "field_accuracy_by", period, version, start, end, order)


def document_accuracy(
    con: duckdb.DuckDBPyConnection,
    period: str = "all",
    version: str = "predicted",
    start: str | datetime | None = None,
    end: str | datetime | None = None,
) -> pd.DataFrame:
    """Documents judged, documents fully correct and their rate, per inbox and period."""
    order = "inbox_id, period_start NULLS FIRST"
    return _by(con, "document_accuracy_by", period, version, start, end, order)


def stp(
    con: duckdb.DuckDBPyConnection,
    period: str = "day",
    start: str | datetime | None = None,
    end: str | datetime | None = None,
) -> pd.DataFrame:
    """Processed, straight-through, rate and the sampled true-STP estimate per period."""
    return _by(con, "stp_by", period, None, start, end, "inbox_id, period_start NULLS FIRST")


def stp_daily(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return _frame(con, "SELECT * FROM stp_daily ORDER BY inbox_id, day", [])


def automation_blockers(
    con: duckdb.DuckDBPyConnection,
    period: str = "all",
    start: str | datetime | None = None,
    end: str | datetime | None = None,
) -> pd.DataFrame:
    """Documents blocked per inbox, field and reason (most blocking first)."""
    order = "inbox_id, period_start NULLS FIRST, documents DESC, field_name, reason"
    return _by(con, "automation_blockers_by", period, None, start, end, order)


def confidence_calibration(
    con: duckdb.DuckDBPyConnection, bucket: int = 10, version: str = "predicted"
) -> pd.DataFrame:
    """Accuracy per confidence bucket, and what each threshold would have let through."""
    sql = (
        "SELECT * FROM confidence_calibration_by(p_bucket := ?, p_version := ?) "
        "ORDER BY inbox_id, field_name, confidence_from"
    )
    return _frame(con, sql, [bucket, version])


def confidence_thresholds(
    con: duckdb.DuckDBPyConnection, target: float = 0.95, bucket: int = 10
) -> pd.DataFrame:
    """The lowest threshold per inbox and field whose passing atoms reach `target` accuracy."""
    sql = (
        "SELECT * FROM confidence_threshold_for(p_target := ?, p_bucket := ?) "
        "ORDER BY inbox_id, field_name"
    )
    return _frame(con, sql, [target, bucket])


def processing_times(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    sql = "SELECT * FROM processing_times ORDER BY inbox_id, page_count NULLS FIRST"
    return _frame(con, sql, [])


def review_latency(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return _frame(con, "SELECT * FROM review_latency ORDER BY inbox_id, month NULLS FIRST", [])


def usage_monthly(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return _frame(con, "SELECT * FROM usage_monthly ORDER BY inbox_id, month", [])


def stats_reconciliation(
    con: duckdb.DuckDBPyConnection, mismatches_only: bool = False
) -> pd.DataFrame:
    where = "WHERE NOT matches " if mismatches_only else ""
    sql = (
        f"SELECT * FROM stats_reconciliation {where}"
        "ORDER BY inbox_id, day, stream, breakdown, field_name, metric"
    )
    return _frame(con, sql, [])
