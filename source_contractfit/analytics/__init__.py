"""Analytics over an exported DuckDB file: SQL views, their pandas API, `sql` and `report`.

Here: `sql/*.sql` (the views and macros, one file per concept), `frames.py` (install the
views; one function per view returning a DataFrame, re-exported here), `query.py`
(`contractfit sql`), `report.py` (`contractfit report`, terminal and HTML). Not here:
how the data got there (`export/`).
"""

from source_contractfit.analytics.frames import (
    PERIODS,
    TABLES,
    VIEWS,
    automation_blockers,
    confidence_calibration,
    confidence_thresholds,
    connect,
    connect_or_say,
    document_accuracy,
    field_accuracy,
    install,
    installed,
    processing_times,
    review_latency,
    sql_files,
    stats_reconciliation,
    stp,
    stp_daily,
    usage_monthly,
)

__all__ = [
    "PERIODS",
    "TABLES",
    "VIEWS",
    "automation_blockers",
    "confidence_calibration",
    "confidence_thresholds",
    "connect",
    "connect_or_say",
    "document_accuracy",
    "field_accuracy",
    "install",
    "installed",
    "processing_times",
    "review_latency",
    "sql_files",
    "stats_reconciliation",
    "stp",
    "stp_daily",
    "usage_monthly",
]
