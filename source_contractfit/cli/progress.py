"""Progress of an export: a live line on a terminal (rich), plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from types import TracebackType
from typing import Any

logger = logging.getLogger("source_contractfit.cli.progress")
LOG_EVERY_SECONDS = 10.0


class Progress:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.interactive = enabled and sys.stderr.isatty()
        self._started = time.monotonic()
        self._last_log = self._started
        self._stream = ""
        self._documents = 0
        self._live: Any = None
        self._task: Any = None
        self._records = 0

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

    def stream(self, name: str) -> None:
        self._stream = name
        self._render(force=True)

    def advance(self, records: int, documents: int) -> None:
        self._records = records
        self._documents = documents
        self._render()

    def _render(self, force: bool = False) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self._started
        rate = self._documents / elapsed if elapsed else 0.0
        text = (
            f"{self._stream}: {self._records:,} records, {self._documents:,} documents "
            f"({rate:,.0f} docs/s)"
        )
        if self._live is not None:
            self._live.update(self._task, description=text)
        elif force or time.monotonic() - self._last_log >= LOG_EVERY_SECONDS:
            self._last_log = time.monotonic()
            logger.info("%s", text)
