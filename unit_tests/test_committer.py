"""The background committer: order, back-pressure, failures handed over once, closing."""

from __future__ import annotations

import threading
import time

import pytest

from source_contractfit.export.committer import Committer


class Gate:
    """An apply function that records items and can hold one until released."""

    def __init__(self, fail_on: object = None) -> None:
        self.applied: list[object] = []
        self.started = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.fail_on = fail_on

    def __call__(self, item: object) -> None:
        self.started.set()
        self.release.wait(10)
        if item == self.fail_on:
            raise OSError(f"disk full at {item}")
        self.applied.append(item)


def holding_the_first(gate: Gate | None = None) -> tuple[Gate, Committer[int]]:
    """A committer whose first item (1) is being applied and held there."""
    gate = gate or Gate()
    gate.release.clear()
    committer: Committer[int] = Committer(gate)
    committer.submit(1)
    assert gate.started.wait(5)
    return gate, committer


def test_items_are_applied_in_order_and_drain_waits_for_all() -> None:
    gate = Gate()
    committer: Committer[int] = Committer(gate)
    for item in range(20):
        committer.submit(item)
    committer.drain()
    assert gate.applied == list(range(20))
    committer.close()


def test_submit_blocks_while_an_item_is_being_applied() -> None:
    gate, committer = holding_the_first()
    second = threading.Thread(target=committer.submit, args=(2,))
    second.start()
    time.sleep(0.2)
    assert second.is_alive(), "a second item must wait: two commits in memory at most"
    gate.release.set()
    second.join(5)
    committer.drain()
    assert gate.applied == [1, 2]
    committer.close()


def test_a_failure_refuses_what_comes_after_it_and_is_raised_once() -> None:
    gate, committer = holding_the_first(Gate(fail_on=2))
    gate.release.set()
    committer.submit(2)
    with pytest.raises(OSError, match="disk full at 2"):
        committer.submit(3)  # waits for 2, which failed: 3 is not applied
    committer.drain()  # raised once: nothing more to say
    assert gate.applied == [1]
    # The next stream's items are applied again.
    committer.submit(4)
    committer.drain()
    assert gate.applied == [1, 4]
    committer.close()


def test_close_lets_the_item_being_applied_finish_and_refuses_more() -> None:
    gate, committer = holding_the_first()
    threading.Timer(0.3, gate.release.set).start()
    committer.close(apply_queued=False)
    assert gate.applied == [1], "the one in flight completes before close returns"
    with pytest.raises(RuntimeError, match="closed"):
        committer.submit(2)


def test_close_after_a_failed_stream_stores_what_was_handed_over() -> None:
    gate, committer = holding_the_first()
    second = threading.Thread(target=committer.submit, args=(2,))
    second.start()
    threading.Timer(0.3, gate.release.set).start()
    second.join(5)
    committer.close()
    assert gate.applied == [1, 2]
