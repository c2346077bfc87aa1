"""Commits applied to the sinks in one background thread, in order, while reading goes on.

Storing a commit (DuckDB compressing and writing row groups, Parquet encoding files) runs
in C with the GIL released, so the reader threads and the normalizer keep working while
a commit is stored. Order and atomicity are the sinks' own: one commit at a time, in the
order submitted, each all-or-nothing. `submit` waits until the commit being stored is
done, so at most two commits' rows are in memory: the one being stored and the one being
built (a queue behind it would only hold a third: building outpaces storing, or not).

A failure drops the items queued after it (a later state must never be stored over
missing data); the next `submit` or `drain` raises it in the caller's thread, once, and
items submitted after that are applied again (the exporter's next stream). `close`
stores what is still queued (after a failed stream, as before this thread existed) or,
after an interrupt, drops it: the commit being stored always finishes (or fails) first,
so the sinks hold the last commit that completed, whole.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

# How often `close` looks whether the thread ended (it must not be left mid-commit).
JOIN_POLL_SECONDS = 0.05


class Committer(Generic[T]):
    """Runs `apply(item)` for each submitted item, in order, in one background thread."""

    def __init__(self, apply: Callable[[T], None], name: str = "contractfit-commit") -> None:
        self._apply = apply
        self._cond = threading.Condition()
        self._todo: deque[T] = deque()
        self._busy = False
        self._stopping = False
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: T) -> None:
        """Hand `item` over; blocks while another is being applied. Raises an earlier
        failure (then `item` is not applied)."""
        with self._cond:
            while (self._todo or self._busy) and self.error is None:
                self._cond.wait()
            self._raise()
            if self._stopping:
                raise RuntimeError("the committer is closed")
            self._todo.append(item)
            self._cond.notify_all()

    def drain(self) -> None:
        """Wait until every submitted item is applied; raises the first failure."""
        with self._cond:
            while (self._todo or self._busy) and self.error is None:
                self._cond.wait()
            self._raise()

    def close(self, apply_queued: bool = True) -> None:
        """Stop the thread: after the queued items (`apply_queued`) or after the one
        being applied now, dropping the others (after an interrupt; a Ctrl-C while
        waiting for the queued ones drops them too). Never raises their failure."""
        if apply_queued:
            try:
                with self._cond:
                    while (self._todo or self._busy) and self.error is None:
                        self._cond.wait()
            except KeyboardInterrupt:
                pass
        with self._cond:
            self._stopping = True
            self._todo.clear()
            self._cond.notify_all()
        while self._thread.is_alive():
            try:
                self._thread.join(JOIN_POLL_SECONDS)
            except KeyboardInterrupt:  # a second Ctrl-C: still never leave a commit half-done
                continue

    def _raise(self) -> None:
        error, self.error = self.error, None
        if error is not None:
            raise error

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._todo and not self._stopping:
                    self._cond.wait()
                if not self._todo:
                    return
                item = self._todo.popleft()
                self._busy = True
                self._cond.notify_all()
            try:
                self._apply(item)
            except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
                with self._cond:
                    self.error = error
                    self._todo.clear()
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
