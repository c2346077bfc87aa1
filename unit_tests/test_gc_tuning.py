"""The exporter's garbage-collector pacing: automatic collection off, one per N documents."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from source_contractfit.read.gc_tuning import CollectEvery


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generation of every collection that starts while the test runs."""
    seen: list[int] = []

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(callback)
    try:
        yield seen
    finally:
        gc.callbacks.remove(callback)


def test_automatic_collection_is_off_inside_and_restored_after() -> None:
    assert gc.isenabled()
    with CollectEvery(10):
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with CollectEvery(10):  # nested in code that had it off: stays off after
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_full_collection_runs_once_every_n_documents(collections: list[int]) -> None:
    with CollectEvery(100) as collector:
        junk = [[i] for i in range(300_000)]  # past any automatic threshold
        del junk
        assert collections == []
        collector.committed(60)
        assert collections == []
        collector.committed(60)  # 120 >= 100
        assert collections == [2]
        collector.committed(99)  # the count restarted at the collection
        assert collections == [2]
        collector.committed(1)
        assert collections == [2, 2]
