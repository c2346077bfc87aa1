"""Analytics over an exported DuckDB file: SQL views, their pandas API, `sql` and `report`.

Here: `sql/*.sql` (the views and macros, one file per concept), `views.py` (put them in an
export file, or in a read-only session), `frames.py` (one function per view returning a
DataFrame), `query.py` (`contractfit sql`), `report/` (`contractfit report`, terminal and
HTML). Not here: how the data got there (`export/`); the sinks store data only.
"""

from source_contractfit.extras import require

require("source_contractfit.analytics", "export")


from source_contractfit.analytics.frames import (
    PERIODS,
    automation_blockers,
    confidence_calibration,
    confidence_thresholds,
    document_accuracy,
    field_accuracy,
    processing_times,
    review_latency,
    stats_reconciliation,
    stp,
    stp_daily,
    usage_monthly,
)
from source_contractfit.analytics.views import (
    TABLES,
    VIEWS,
    connect,
    connect_or_say,
    install,
    install_in_file,
    installed,
    sql_files,
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
    "install_in_file",
    "installed",
    "processing_times",
    "review_latency",
    "sql_files",
    "stats_reconciliation",
    "stp",
    "stp_daily",
    "usage_monthly",
]
