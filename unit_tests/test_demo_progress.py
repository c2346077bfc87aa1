"""`contractfit demo` shows that its read is alive, and explains its counts."""

from __future__ import annotations

import sys
from collections import Counter

import pytest

from source_contractfit.cli import demo

SLOW_READ = """
import json, sys, time
for i in range(6):
    record = {"stream": "documents" if i % 2 else "document_fields", "data": {}}
    print(json.dumps({"type": "RECORD", "record": record}), flush=True)
    time.sleep(0.1)
"""


def test_a_read_that_takes_a_while_prints_progress(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "PROGRESS_SECONDS", 0.15)
    counts, states, errors = demo._run_protocol([sys.executable, "-c", SLOW_READ])
    assert counts == Counter({"documents": 3, "document_fields": 3}) and not errors
    lines = [line for line in capsys.readouterr().out.splitlines() if "so far" in line]
    assert lines and all("records" in line and "documents" in line for line in lines)


def test_the_summary_says_which_records_are_derived(capsys: pytest.CaptureFixture[str]) -> None:
    demo._print_summary(Counter({"documents": 10, "document_fields": 700}), 3, 1.0)
    out = capsys.readouterr().out
    assert "710 records (3 state messages)" in out
    assert "700 of them are document_fields and document_line_items records" in out
