"""`interleave`: partitions read in worker threads, merged in the consumer's thread."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator

import pytest

from source_contractfit.read.concurrency import READER_NICENESS, PartitionDone, interleave


def niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_each_partition_arrives_in_order_then_its_end() -> None:
    def partition(key: str) -> Iterator[str]:
        yield from (f"{key}{n}" for n in range(50))

    work = [(key, lambda key=key: partition(key)) for key in "abc"]
    seen: dict[str, list[str]] = {key: [] for key in "abc"}
    done = []
    for item in interleave(work, workers=3, buffer=4):
        if isinstance(item, PartitionDone):
            done.append(item.key)
        else:
            key, value = item
            assert key not in done
            seen[key].append(value)
    assert sorted(done) == ["a", "b", "c"]
    assert seen == {key: [f"{key}{n}" for n in range(50)] for key in "abc"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness")
def test_the_readers_run_nicer_than_the_consumer() -> None:
    """The readers are ahead whenever the queue is full; the consumer (and an export's
    committer) are the critical path, so on a busy machine they run first."""
    consumer = niceness()

    def partition() -> Iterator[int]:
        yield niceness()

    work = [(key, partition) for key in range(2)]
    readers = [item[1] for item in interleave(work, workers=2) if isinstance(item, tuple)]
    assert readers == [min(19, consumer + READER_NICENESS)] * 2
    assert niceness() == consumer


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness")
def test_the_fetch_executor_is_as_nice_as_the_readers_whoever_creates_it() -> None:
    """A thread inherits its creator's niceness, and the shared executor's threads are
    created by the first thread that submits: they are set from the main thread's value,
    so they are as nice as the readers, not nicer, nor as the consumer."""
    from concurrent.futures import ThreadPoolExecutor

    from source_contractfit.read.concurrency import fetcher_priority

    expected = min(19, niceness() + READER_NICENESS)

    def partition() -> Iterator[list[int]]:
        # Submitted from a reader (already nicer): its threads would inherit that.
        pool = ThreadPoolExecutor(2, initializer=fetcher_priority)
        yield [pool.submit(niceness).result() for _ in range(4)]
        pool.shutdown()

    empty: list[list[int]] = []
    work = [(0, partition), (1, lambda: iter(empty))]
    (found,) = [item[1] for item in interleave(work, workers=2) if isinstance(item, tuple)]
    assert found == [expected] * 4
