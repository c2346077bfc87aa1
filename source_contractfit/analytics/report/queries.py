"""The report's numbers: one SELECT per file in `sql/`, each over the analytics views.

Analytics is SQL: every count, sum and ratio the report shows is computed by one of these
queries (so `contractfit sql` reproduces any of them), and `text.py` and `html.py` only
pick rows and format them. A query is named after its file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

# Calibration points from fewer atoms than this are noise, not a curve.
MIN_BUCKET_ATOMS = 10
# A week of fewer documents than this is drawn apart (a hollow marker), not as a rate.
MIN_WEEK_DOCUMENTS = 20
# Named parameters of the queries that take some ($name in the SQL).
PARAMETERS: dict[str, dict[str, Any]] = {
    "calibration": {"min_atoms": MIN_BUCKET_ATOMS},
    "stp_weekly": {"min_documents": MIN_WEEK_DOCUMENTS},
}


@cache
def queries() -> dict[str, str]:
    """Query name -> SQL, from `sql/*.sql` beside this module."""
    folder = resources.files(__package__ or __name__) / "sql"
    files = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return {name[: -len(".sql")]: (folder / name).read_text(encoding="utf-8") for name in files}


@dataclass
class Report:
    """Each query's result as a DataFrame, and when they ran."""

    frames: dict[str, pd.DataFrame]
    generated_at: datetime
    # Optional goals (`--target-stp`, `--target-accuracy`): lines on the charts, and the
    # headline cards coloured against them.
    targets: dict[str, float] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.frames[name]

    def rows(self, name: str) -> list[dict[str, Any]]:
        """A query's rows as dicts of Python values."""
        return list(self.frames[name].to_dict("records"))

    def row(self, name: str) -> dict[str, Any]:
        """The one row of a one-row query (the totals)."""
        (only,) = self.rows(name)
        return only


def build(con: duckdb.DuckDBPyConnection) -> Report:
    """Run every report query; the connection needs the analytics views (analytics.connect)."""
    frames = {name: con.execute(sql, PARAMETERS.get(name)).df() for name, sql in queries().items()}
    return Report(frames, datetime.now(timezone.utc).replace(microsecond=0))
