"""SIGINT is recognised whatever DuckDB makes of it: the export's "interrupted" line."""

from __future__ import annotations

import os
import signal
import time

import duckdb
import pytest

from source_contractfit.export.exporter import SigintSeen, interrupted


def test_duckdb_errors_made_of_a_keyboard_interrupt_are_interruptions() -> None:
    scan = duckdb.InvalidInputException(
        "Invalid Input Error: counting the rows of the object registered as '_staged' "
        "failed: KeyboardInterrupt: "
    )
    assert interrupted(scan)
    assert interrupted(RuntimeError("Query interrupted"))
    assert interrupted(duckdb.InterruptException("INTERRUPT Error: Interrupted!"))
    wrapped = ValueError("while storing")
    wrapped.__cause__ = scan
    assert interrupted(wrapped)
    assert not interrupted(duckdb.InvalidInputException("Invalid Input Error: bad column"))


def test_sigint_is_remembered_and_the_handler_restored() -> None:
    before = signal.getsignal(signal.SIGINT)
    sigint = SigintSeen()
    sigint.install()
    try:
        assert not sigint.seen
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the handler raises long before
        assert sigint.seen
    finally:
        sigint.restore()
    assert signal.getsignal(signal.SIGINT) is before
