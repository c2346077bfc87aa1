"""The export's progress line: the current stream's own counts, rate, total and ETA."""

from __future__ import annotations

import logging

import pytest

from source_contractfit.cli import progress as progress_module
from source_contractfit.cli.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(progress_module.time, "monotonic", fake)
    return fake


def test_documents_show_their_total_and_time_left(clock: Clock) -> None:
    line = Progress(enabled=True)
    line.stream("documents", expected=lambda: 10_000)
    clock.now += 10
    line.advance(records=2_500, documents=2_500)
    assert line.text() == "documents: 2,500 of 10,000 documents (250/s, about 0:00:30 left)"


def test_no_total_until_every_inbox_has_said(clock: Clock) -> None:
    line = Progress(enabled=True)
    line.stream("documents", expected=lambda: None)
    clock.now += 2
    line.advance(records=100, documents=100)
    assert line.text() == "documents: 100 documents (50/s)"


def test_each_stream_shows_its_own_counts_and_rate(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Without a terminal each log line names the stream and its own counts, not running
    totals of the streams before it; the rate is that stream's."""
    caplog.set_level(logging.INFO, logger="source_contractfit.cli.progress")
    line = Progress(enabled=True)
    line.stream("documents", expected=lambda: 3_000)
    clock.now += 5
    line.advance(records=3_000, documents=3_000)
    line.stream("stats_fields")
    clock.now += 20
    line.advance(records=3_000 + 5_812, documents=3_000)
    assert line.text() == "stats_fields: 5,812 records (291/s)"
    logged = [r.getMessage() for r in caplog.records]
    assert logged[-2:] == ["stats_fields: 0 records (0/s)", "stats_fields: 5,812 records (291/s)"]
