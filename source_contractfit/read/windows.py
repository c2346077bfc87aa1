"""One inbox read in several receive-time windows at once, still exact.

A walk of one inbox is a chain of requests, each starting where the last page ended, so
behind a slow server a big inbox is read at one page per round trip whatever
`max_concurrency` allows. Here the inbox is cut into windows of receive time, `[start,
end)`, each walked by its own thread with `walk.walk_positions` (overlapping, verified
pages): one instant always falls in exactly one window, so a burst of documents sharing a
`receive_time` can never straddle two.

How the windows are made, with no request spent on it but one:
- the first page of the inbox is read as today (its `total` says how much is left);
- when an inbox may walk more windows than it has (`WindowBudget`: `max_concurrency`
  shared by the inboxes being read now) and a window has at least MIN_SPLIT_PAGES pages
  left, that window is cut at even steps of time between where its walk stands and its
  end. The newest window is open-ended; its end for this purpose is the newest
  document's receive time, asked once per inbox with a one-document page (the probe).
- a window that finishes early frees its place, and the window with most left is cut
  again, so uneven windows even out as the read goes.
A window whose end is moved earlier keeps its walk: positions before the new end do not
change; documents at or after it are left to the new window.

What a checkpoint may claim: documents are handed out as their pages arrive, but the
inbox's cursor only moves over the contiguous prefix of finished windows (the first
unfinished window's documents move it one by one, `WindowedDocument.in_prefix`; a window
finishing moves it over every finished window after it, `Covered`). A sync killed anywhere
resumes from that prefix: finished windows beyond it are read again, never lost.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime

from source_contractfit.api.client import ContractfitClient, Decoder, expect_page
from source_contractfit.api.errors import ResponseFormatError
from source_contractfit.read.concurrency import fetcher_priority
from source_contractfit.read.walk import (
    ORDER_ASCENDING,
    Pager,
    Position,
    Stamped,
    Window,
    receive_time_of,
    walk_positions,
)
from source_contractfit.timeutil import ONE_MICROSECOND, format_datetime

logger = logging.getLogger("source_contractfit.read.windows")
# A window is cut only when it has at least this many pages left after the one in flight:
# a cut costs a short last page in each part, and a window of one page left ends as soon
# as a new one would start. (At 2, 10k documents of one inbox read 8 ways behind 300 ms
# pages: the last windows no longer end a page or two after the others.)
MIN_SPLIT_PAGES = 2
# The newest document's time is asked for (one request) only for an inbox with at least
# this many pages left: the probe then costs at most 2% of the pages read.
PROBE_PAGES = 50
# Pages a window's thread may read ahead of the consumer (memory stays bounded).
PAGES_AHEAD = 2
NEWEST_FIRST = "-receive_time,-id"
_PUT_TIMEOUT = 0.1


@dataclass(frozen=True)
class WindowedDocument:
    """A document of the walk; `in_prefix`: its window is the first unfinished one, so
    the inbox's cursor may move to it."""

    stamped: Stamped
    in_prefix: bool


@dataclass(frozen=True)
class Covered:
    """Every document up to `position` (inclusive) has been handed out."""

    position: Position


class WindowBudget:
    """Windows an inbox may walk at once: `max_concurrency` shared by the inboxes still to
    read, as many of them as run at once (the client bounds the requests in flight; this
    bounds the cutting, so that four inboxes read four at a time are not cut until some
    of them are done). Counting the inboxes not finished, rather than those started,
    keeps the first ones to start from cutting (and probing) as if they were alone."""

    def __init__(self, concurrency: int, inboxes: int = 1) -> None:
        self.concurrency = concurrency
        self._left = inboxes
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Around one inbox's walk: when it ends, the others may cut more."""
        try:
            yield
        finally:
            with self._lock:
                self._left -= 1

    def per_inbox(self) -> int:
        with self._lock:
            sharing = min(self.concurrency, max(1, self._left))
            return max(1, -(-self.concurrency // sharing))


@dataclass(eq=False)
class _Walk:
    """One window and its walk. `position` is the walk's own (its thread moves it);
    `covered` the last document handed out at or before `latest` (the consumer's side)."""

    window: Window
    position: Position
    covered: Position
    pager: Pager = field(default_factory=Pager)
    pages: int = 0  # pages handed out
    cut_after: int = -1  # the window was cut: its `total` is stale until this many pages
    done: bool = False
    handed: int = 0  # documents handed out
    first_time: datetime | None = None  # the receive time of the first of them

    def left(self, per_page: int) -> int:
        """Documents still to read, from its last page's total (0 while unknown)."""
        if self.pager.total is None or self.pages <= self.cut_after:
            return 0
        return max(0, self.pager.total - self.pager.covered_end - per_page)


def read_inbox(
    client: ContractfitClient,
    inbox_id: str,
    start: Position,
    per_page: int,
    budget: WindowBudget,
    latest: datetime,
    decode: Decoder | None = None,
    on_total: Callable[[int], None] | None = None,
) -> Iterator[WindowedDocument | Covered]:
    """Every document of the inbox after `start`, read in parallel windows (see the
    module). Documents received after `latest` (the server's present plus a margin) are
    handed out but never covered. `on_total` hears the first page's `total` (progress)."""
    per_page = max(per_page, 2)
    return _InboxReader(client, inbox_id, start, per_page, budget, latest, decode, on_total).run()


class _InboxReader:
    def __init__(
        self,
        client: ContractfitClient,
        inbox_id: str,
        start: Position,
        per_page: int,
        budget: WindowBudget,
        latest: datetime,
        decode: Decoder | None,
        on_total: Callable[[int], None] | None,
    ) -> None:
        self.client = client
        self.on_total = on_total
        self.path = client.path("inboxes/{inbox_id}/paginated", inbox_id=inbox_id)
        self.per_page = per_page
        self.budget = budget
        self.latest = latest
        self.decode = decode
        self.walks = [_Walk(Window(start.receive_time, None), replace(start), replace(start))]
        self.out: queue.Queue[tuple[str, _Walk, object]] = queue.Queue(
            maxsize=PAGES_AHEAD * budget.concurrency
        )
        self.stop = threading.Event()
        self.upper: datetime | None = None  # the newest document's time + 1 µs (probed)
        self.probed = False
        self.early: threading.Thread | None = None
        self.probe_error: BaseException | None = None

    def run(self) -> Iterator[WindowedDocument | Covered]:
        walk = self.walks[0]
        if walk.window.start is None and self.budget.per_inbox() > 1:
            # A first read of the inbox (no cursor): it is likely large, so its newest
            # document is asked for beside its first page rather than after it. (An
            # incremental read's tail is small: it asks only when a cut needs it.)
            self.early = threading.Thread(target=self._probe_early, daemon=True)
            self.early.start()
        pages = self._pages(walk)
        first = next(pages, None)  # the inbox's first page, read here
        if first is None:
            return
        if self.on_total is not None and walk.pager.total is not None:
            self.on_total(walk.pager.total)
        yield from self._hand_out(walk, first)
        if walk.pager.finished:
            return
        self._start(walk, pages)
        try:
            self._cut()
            while not all(w.done for w in self.walks):
                kind, walk, payload = self.out.get()
                if kind == "error":
                    assert isinstance(payload, BaseException)
                    raise payload
                if kind == "page":
                    assert isinstance(payload, list)
                    yield from self._hand_out(walk, payload)
                else:
                    was_prefix = walk is self._prefix_walk()
                    walk.done = True
                    logger.debug(
                        "%s: window [%s, %s) read (%d pages)",
                        self.path, _fmt(walk.window.start), _fmt(walk.window.end), walk.pages,
                    )  # fmt: skip
                    if was_prefix:
                        yield Covered(self._prefix_position())
                self._cut()
        finally:
            self.stop.set()

    # -- handing out -----------------------------------------------------------------

    def _hand_out(self, walk: _Walk, page: list[Stamped]) -> Iterator[WindowedDocument]:
        end = walk.window.end  # documents at or after a cut belong to the next window
        in_prefix = walk is self._prefix_walk()
        walk.pages += 1
        for stamped in page:
            if end is not None and stamped[0] >= end:
                break
            if walk.first_time is None:
                walk.first_time = stamped[0]
            walk.handed += 1
            if stamped[0] <= self.latest:
                walk.covered = Position(stamped[0], stamped[1])
            yield WindowedDocument(stamped, in_prefix)

    def _prefix_walk(self) -> _Walk | None:
        return next((w for w in self.walks if not w.done), None)

    def _prefix_position(self) -> Position:
        """How far the contiguous prefix of finished windows reaches."""
        walk = self._prefix_walk() or self.walks[-1]
        return replace(walk.covered)

    # -- the windows' threads ----------------------------------------------------------

    def _pages(self, walk: _Walk) -> Iterator[list[Stamped]]:
        return walk_positions(
            self.client,
            self.path,
            walk.window,
            ORDER_ASCENDING,
            walk.position,
            self.per_page,
            self.decode,
            walk.pager,
            restart=True,
        )

    def _start(self, walk: _Walk, pages: Iterator[list[Stamped]]) -> None:
        thread = threading.Thread(
            target=self._walk, args=(walk, pages), name="contractfit-window", daemon=True
        )
        thread.start()

    def _walk(self, walk: _Walk, pages: Iterator[list[Stamped]]) -> None:
        fetcher_priority()
        try:
            for page in pages:
                end = walk.window.end
                inside = [s for s in page if end is None or s[0] < end]
                if not self._put(("page", walk, inside)):
                    return
                if len(inside) < len(page):
                    break  # the window was cut: the rest is the next window's
            self._put(("done", walk, None))
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            self._put(("error", walk, error))

    def _put(self, item: tuple[str, _Walk, object]) -> bool:
        while not self.stop.is_set():
            try:
                self.out.put(item, timeout=_PUT_TIMEOUT)
                return True
            except queue.Full:
                continue
        return False

    # -- cutting -----------------------------------------------------------------------

    def _cut(self) -> None:
        """Cut the window with most left while the inbox may walk more windows."""
        live = [w for w in self.walks if not w.done]
        wanted = self.budget.per_inbox()
        while live and len(live) < wanted:
            donor = max(live, key=lambda w: w.left(self.per_page))
            left = donor.left(self.per_page)
            if left < MIN_SPLIT_PAGES * self.per_page:
                return
            low = donor.position.receive_time or donor.window.start
            upper = donor.window.end or self._newest(donor, left, low)
            parts = min(wanted - len(live) + 1, left // self.per_page)
            if upper is None or low is None or parts < 2:
                return
            span = (upper - low) // parts
            if span < ONE_MICROSECOND:
                donor.cut_after = donor.pages + 1  # nothing to cut until it moves on
                return
            live += self._cut_window(donor, [low + span * k for k in range(1, parts)])

    def _cut_window(self, donor: _Walk, points: list[datetime]) -> list[_Walk]:
        old_end = donor.window.end
        logger.debug(
            "%s: window [%s, %s) cut into %d at %s (about %d documents left)",
            self.path, _fmt(donor.window.start), _fmt(donor.window.end), len(points) + 1,
            ", ".join(_fmt(p) for p in points), donor.left(self.per_page),
        )  # fmt: skip
        bounds = [*points, old_end]
        donor.window.end = points[0]
        donor.cut_after = donor.pages + 1  # its page in flight still counted the old end
        index = self.walks.index(donor)
        new: list[_Walk] = []
        for low, high in zip(points, bounds[1:], strict=True):
            walk = _Walk(Window(low, high), Position(low), Position(low))
            new.append(walk)
        self.walks[index + 1 : index + 1] = new
        for walk in new:
            self._start(walk, self._pages(walk))
        return new

    def _newest(self, donor: _Walk, left: int, low: datetime | None) -> datetime | None:
        """Where the open window's documents end, for cutting it: probed when the inbox
        has PROBE_PAGES pages or more left (or a probe was asked already), so that the
        probe stays within 2% of the pages read; otherwise extrapolated from the pace of
        the documents the window has handed out (the newest window stays open-ended, so
        an estimate that falls short only makes the windows uneven, and a later cut
        evens them)."""
        if self.probed or self.early is not None or left >= PROBE_PAGES * self.per_page:
            return self._probe()
        if low is None or donor.first_time is None or donor.handed < 2 or low <= donor.first_time:
            return None
        per_document = (low - donor.first_time) / (donor.handed - 1)
        return min(low + per_document * left + ONE_MICROSECOND, self.latest)

    def _probe(self) -> datetime | None:
        """The newest document's receive time + 1 µs, capped at `latest` (asked once)."""
        if self.early is not None:
            self.early.join()
            self.early = None
        if self.probe_error is not None:
            raise self.probe_error
        if not self.probed:
            self._ask_newest()
        return self.upper

    def _probe_early(self) -> None:
        """`_ask_newest` in a thread of its own, beside the inbox's first page."""
        try:
            self._ask_newest()
        except BaseException as error:  # noqa: BLE001 - raised by `_probe`, if it is needed
            self.probe_error = error

    def _ask_newest(self) -> None:
        if not self.probed:
            self.probed = True
            start = self.walks[0].window.start
            params: dict[str, str | int | bool | None] = {
                "order_by": NEWEST_FIRST,
                "per_page": 1,
                "page": 1,
                "start_receive_date": None if start is None else format_datetime(start),
            }
            results = expect_page(self.client.get_json(self.path, params), self.path)
            if results:
                newest = receive_time_of(results[0], self.path)
                if start is not None and newest < start:
                    raise ResponseFormatError(
                        f"GET /{self.path} returned a document received at "
                        f"{format_datetime(newest)}, before the window asked for (from "
                        f"{format_datetime(start)}): the server does not honour "
                        "start_receive_date, so this stream cannot be read exactly."
                    )
                self.upper = min(newest + ONE_MICROSECOND, self.latest)


def _fmt(value: datetime | None) -> str:
    return "-" if value is None else format_datetime(value)
