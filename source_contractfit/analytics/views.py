"""The analytics views and macros (`sql/*.sql`), put into an export file or into a session.

The exporter calls `install_in_file` once its tables are committed, so the views live in
the file beside the data and dashboards query them directly. `connect` opens a file
read-only and, for a file from an older exporter, adds the current views for that
session only, changing nothing on disk. The sinks store data and know nothing of this.
"""

from __future__ import annotations

import sys
import time
from importlib import resources
from pathlib import Path

import duckdb

from source_contractfit.api.errors import ConfigError

# How long `sql` and `report` wait for a running export to finish writing a commit.
READER_WAIT_SECONDS = 30.0
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


def install_in_file(con: duckdb.DuckDBPyConnection) -> bool:
    """Install the views in the database itself, all or nothing; whether it did.

    Only a database holding every table the views read gets them (an export of a few
    streams into a file of its own must not fail). CREATE OR REPLACE makes a rerun
    bring the views up to date with this version.
    """
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = current_schema()"
    ).fetchall()
    if not set(TABLES) <= {name for (name,) in rows}:
        return False
    con.execute("BEGIN")
    try:
        install(con)
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return True


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
    con = _open_read_only(path)
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


def _open_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """The file, read-only. A running export holds it only while it writes a commit
    (`DuckDBSink._release`), so a refusal for that lock is retried for up to
    READER_WAIT_SECONDS before it is reported."""
    deadline = time.monotonic() + READER_WAIT_SECONDS
    while True:
        try:
            return duckdb.connect(str(path), read_only=True)
        except duckdb.Error as error:
            if "Could not set lock on file" not in str(error):
                raise ConfigError(f"Cannot open DuckDB file {path}: {error}") from None
            if time.monotonic() >= deadline:
                raise ConfigError(
                    f"{path} has been written by another process for {READER_WAIT_SECONDS:.0f} s "
                    "(an export commits in steps of a few seconds; a file another program "
                    "keeps open stays locked): try again later."
                ) from None
            time.sleep(0.1)


def connect_or_say(path: str | Path, command: str) -> duckdb.DuckDBPyConnection | None:
    """connect(), or None after one line on stderr naming the command (for the CLI)."""
    if Path(path).is_dir():
        print(f"contractfit {command}: {path} is a directory, not a DuckDB file.", file=sys.stderr)
        return None
    try:
        return connect(path)
    except ConfigError as error:
        print(f"contractfit {command}: {error.message}", file=sys.stderr)
        return None
