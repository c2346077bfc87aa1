"""The analytics views as pandas DataFrames, for notebooks: one SELECT per function.

The numbers are defined once, in SQL (`sql/*.sql`, put in the file by the exporter), so
dashboards, `contractfit sql` and this API read the same ones; nothing is computed here:

    from source_contractfit import analytics
    con = analytics.connect("contractfit.duckdb")
    analytics.field_accuracy(con, period="month")
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    import pandas as pd

PERIODS = ("day", "week", "month", "quarter", "year", "all")


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
