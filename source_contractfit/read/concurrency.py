"""Running several partition readers at once and merging their output in one thread.

Partition readers (one per inbox) block on HTTP, so threads overlap their waits; the
consumer (record emission, checkpoints, sinks) stays single-threaded and sees each
partition's items in order, followed by a `PartitionDone` marker. A bounded queue keeps
memory flat: workers wait when the consumer is slower than the network.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")
T = TypeVar("T")
A = TypeVar("A")
R = TypeVar("R")
_END = object()
# The partition readers run this much nicer than the rest of the process. They are ahead
# whenever the bounded queue is full, while the consumer and the export's committer are
# the critical path; on two cores, letting those run first (the readers take the idle
# moments) made 10k exports 5-7% faster (+10, 7 interleaved runs each, both sinks; +5
# measured the same). +5 (about a third of the CPU share) rather than +10 (a tenth), so
# that on a machine busy with other work the readers do not fall far behind.
READER_NICENESS = 5


def fetcher_priority() -> None:
    """Make the calling thread, one that fetches, READER_NICENESS nicer than the process's
    main thread. Linux only, where a thread's id names it to setpriority; a refusal
    changes nothing. Set from the main thread's value, not the caller's own: a thread
    inherits its creator's, and the shared fetch executor's threads are created by
    whichever thread submits first (`ReadContext.executor` runs this in each of them)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError):
        main = os.getpriority(os.PRIO_PROCESS, os.getpid())
        niceness = min(19, main + READER_NICENESS)
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)


@dataclass(frozen=True)
class PartitionDone(Generic[K]):
    key: K


@dataclass(frozen=True)
class _Failed(Generic[K]):
    key: K
    error: BaseException


_SENTINEL_TIMEOUT = 0.1


def interleave(
    partitions: Sequence[tuple[K, Callable[[], Iterator[T]]]],
    workers: int,
    buffer: int = 512,
) -> Iterator[tuple[K, T] | PartitionDone[K]]:
    """Yield `(key, item)` from all partitions and `PartitionDone(key)` when one ends.

    At most `workers` partitions run at once. The first exception of any partition is
    re-raised in the consumer after the other workers are told to stop.
    """
    if workers <= 1 or len(partitions) <= 1:
        for key, factory in partitions:
            for item in factory():
                yield key, item
            yield PartitionDone(key)
        return

    out: queue.Queue[object] = queue.Queue(maxsize=buffer)
    stop = threading.Event()
    todo: queue.Queue[tuple[K, Callable[[], Iterator[T]]]] = queue.Queue()
    for partition in partitions:
        todo.put(partition)

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=_SENTINEL_TIMEOUT)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        fetcher_priority()
        while not stop.is_set():
            try:
                key, factory = todo.get_nowait()
            except queue.Empty:
                return
            try:
                for item in factory():
                    if not put((key, item)):
                        return
                put(PartitionDone(key))
            except BaseException as error:  # noqa: BLE001 - handed to the consumer
                put(_Failed(key, error))
                return

    threads = [
        threading.Thread(target=work, name=f"partition-{i}", daemon=True)
        for i in range(min(workers, len(partitions)))
    ]
    for thread in threads:
        thread.start()
    remaining = len(partitions)
    try:
        while remaining:
            got = out.get()
            if isinstance(got, _Failed):
                raise got.error
            if isinstance(got, PartitionDone):
                remaining -= 1
            yield got  # type: ignore[misc]
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)


def prefetch_map(
    executor: Executor, fn: Callable[[A], R], items: Iterable[A], window: int
) -> Iterator[R]:
    """`fn` over `items` with up to `window` calls in flight, results in input order."""
    pending: deque[Future[R]] = deque()
    source = iter(items)
    for item in source:
        pending.append(executor.submit(fn, item))
        if len(pending) >= window:
            break
    try:
        while pending:
            result = pending.popleft().result()
            following = next(source, _END)
            if following is not _END:
                pending.append(executor.submit(fn, following))  # type: ignore[arg-type]
            yield result
    finally:
        for future in pending:
            future.cancel()
