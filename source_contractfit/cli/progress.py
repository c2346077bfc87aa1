"""Progress of an export: a live line on a terminal (rich), plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

logger = logging.getLogger("source_contractfit.cli.progress")
LOG_EVERY_SECONDS = 10.0
LIVE_EVERY_SECONDS = 0.1  # the terminal line is redrawn at most this often


class Progress:
    """What the export is doing now: the stream being read, its own counts and rate (not
    running totals of the streams before it), and, for documents, how many there are to
    read (each inbox's first page gives its `total`) and when they should be done."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.interactive = enabled and sys.stderr.isatty()
        self._last_log = time.monotonic()
        self._stream = ""
        self._stream_started = self._last_log
        self._base = (0, 0)  # records and documents when the current stream started
        self._records = 0
        self._documents = 0
        self._expected: Callable[[], int | None] | None = None
        self._last_live = 0.0
        self._live: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        if self.interactive:
            from rich.console import Console
            from rich.progress import Progress as RichProgress
            from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

            self._live = RichProgress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                transient=True,
                # The terminal that was asked (stderr): stdout holds only the summary.
                console=Console(stderr=True),
            )
            self._live.start()
            self._task = self._live.add_task("starting")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()

    def stream(self, name: str, expected: Callable[[], int | None] | None = None) -> None:
        """A new stream (or unit of streams) starts: its counts and clock start at zero.
        `expected()`: the documents it will read in all, once known (asked when shown)."""
        self._stream = name
        self._stream_started = time.monotonic()
        self._base = (self._records, self._documents)
        self._expected = expected
        self._render(force=True)

    def advance(self, records: int, documents: int) -> None:
        """Running totals of the run (the line shows the current stream's share)."""
        self._records = records
        self._documents = documents
        self._render()

    def text(self) -> str:
        """The line shown: the current stream's own counts, rate and, with a total, ETA."""
        elapsed = time.monotonic() - self._stream_started
        records = self._records - self._base[0]
        documents = self._documents - self._base[1]
        if not documents:
            rate = records / elapsed if elapsed > 0 else 0.0
            return f"{self._stream}: {records:,} records ({rate:,.0f}/s)"
        rate = documents / elapsed if elapsed > 0 else 0.0
        expected = self._expected() if self._expected is not None else None
        text = f"{self._stream}: {documents:,}"
        if expected:
            text += f" of {expected:,}"
        text += f" documents ({rate:,.0f}/s"
        if expected and rate > 0 and documents < expected:
            text += f", about {_duration((expected - documents) / rate)} left"
        return text + ")"

    def _render(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self._live is not None:
            if force or now - self._last_live >= LIVE_EVERY_SECONDS:
                self._last_live = now
                self._live.update(self._task, description=self.text())
        elif force or time.monotonic() - self._last_log >= LOG_EVERY_SECONDS:
            self._last_log = time.monotonic()
            logger.info("%s", self.text())


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
