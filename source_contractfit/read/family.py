"""One incremental read of documents feeding every selected document-family stream.

`documents`, `document_versions` (and the normalized field/line-item streams) all come
from the same Documents, so a sync fetches each document once and derives every selected
stream's records from it. Per inbox the read is: the keyset walk from the earliest
position any selected stream has reached, then the late reviews since the earliest
`reviews_checked_until`. Each stream keeps its own state (`state.py`) and is only sent
documents its own position has not covered yet.

Checkpoints are built in the consumer thread from the documents it has emitted, so a
state message never claims a document that is still in a worker's buffer: killing the
process anywhere and resuming from the last state emitted loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from source_contractfit.api.errors import PermissionDeniedError
from source_contractfit.read.concurrency import PartitionDone, interleave
from source_contractfit.read.context import ReadContext
from source_contractfit.read.events import Checkpoint, Item, Record
from source_contractfit.read.reviews import (
    ReviewCounters,
    ReviewedDocument,
    ReviewsChecked,
    canonical,
    late_reviews,
)
from source_contractfit.read.state import DocumentsState, InboxState
from source_contractfit.read.walk import Position, walk_inbox_stamped
from source_contractfit.read.windows import Covered, WindowBudget, read_inbox
from source_contractfit.streams.base import StreamDef
from source_contractfit.timeutil import format_datetime, utcnow

logger = logging.getLogger("source_contractfit.read.family")
# Reviews are looked for up to a day past our own clock: a server clock running ahead of
# ours must not hide a review. The next sync starts again from our clock minus lookback.
CLOCK_SKEW_MARGIN = timedelta(days=1)
# A cursor never passes the server's present (ReadContext.present) plus this margin. A
# document received later than that (a clock error on the server, a bad import) is emitted,
# but the cursor stays before it, so documents that arrive meanwhile are still read; it is
# read again by every sync until the present reaches it (the sinks keep it once).
FUTURE_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class WalkedDocument:
    document: dict[str, Any]
    receive_time: datetime
    document_id: str
    # The cursor may move to it: every document before it has been handed out
    # (windows.py: false for a window after the first unfinished one).
    in_prefix: bool = True


@dataclass
class _InboxPlan:
    start: Position
    reviews_from: datetime | None
    # Snapshot of each stream's state: a listed review is skipped only when every selected
    # stream already holds those versions.
    known: list[InboxState]

    def already_have(self, document_id: str, stamps: set[str]) -> bool:
        return all(state.knows(document_id, stamps) for state in self.known)


def version_stamps(document: dict[str, Any], horizon: str) -> tuple[str, ...]:
    """The document's version timestamps at or after `horizon`, in the server's format."""
    stamps = []
    for version in document.get("versions") or ():
        stamp = version.get("timestamp") if isinstance(version, dict) else None
        if isinstance(stamp, str):
            stamp = canonical(stamp)
            if stamp >= horizon:
                stamps.append(stamp)
    return tuple(stamps)


def _earliest(states: Sequence[InboxState], start_date: datetime | None) -> Position:
    """The position from which every stream's missing documents are reached.

    Positions are keyset cursors on (receive_time, id), so this is the smallest of them:
    the earliest cursor and, among the streams at it, the smallest last id (None, nothing
    read at that instant, is smallest). A stream is covered only up to its own last id;
    the walk then hands each stream only what its own position has not covered.
    """
    positions = [s.position for s in states]
    if any(p.receive_time is None for p in positions):
        return Position(start_date)
    earliest = min(p.receive_time for p in positions if p.receive_time is not None)
    at_earliest = [p.last_id for p in positions if p.receive_time == earliest]
    last_ids = [i for i in at_earliest if i is not None]
    last_id = min(last_ids) if len(last_ids) == len(at_earliest) else None
    return Position(earliest, last_id)


def read_document_family(
    streams: Sequence[StreamDef], ctx: ReadContext, blobs: Mapping[str, Any]
) -> Iterator[Item]:
    config = ctx.config
    sync_started = utcnow()
    states = {s.name: DocumentsState.from_blob(s.name, blobs.get(s.name)) for s in streams}
    counters = ReviewCounters()
    plans: dict[str, _InboxPlan] = {}
    inboxes = ctx.inboxes()
    # Reviews are stamped by the server's clock, so they count as checked up to the
    # server's present at the start, not ours: with ours ahead, a review made after this
    # sync's listing but stamped before our clock was never listed again, and a state past
    # the server's present plus FUTURE_MARGIN made the next sync read the inbox again in
    # full. Its `Date` has whole seconds, so that present lies within the second after it;
    # with the clocks in step, ours (taken before the first request) is the earlier one.
    checked_until = min(sync_started, ctx.present() + timedelta(seconds=1))
    # Which versions count as recent follows the same clock as the reviews' window.
    horizon = format_datetime(checked_until - timedelta(days=config.lookback_days))
    for inbox in inboxes:
        inbox_id = inbox["id"]
        inbox_states = [states[s.name].inbox(inbox_id) for s in streams]
        latest = ctx.present() + FUTURE_MARGIN
        for stream, state in zip(streams, inbox_states, strict=True):
            cursor = state.position.receive_time
            reviewed = state.reviews_checked_until
            if (cursor is not None and cursor > latest) or (reviewed and reviewed > latest):
                # No cursor can lie there (they are capped), unless an older version
                # followed a future-dated document: documents may have been missed.
                logger.warning(
                    "The state of stream %r, inbox %s, has its cursor at %s, after the "
                    "server's present (%s): documents received since may have been missed, "
                    "so this inbox is read again from start_date (destinations keep each "
                    "document once).",
                    stream.name, inbox_id, format_datetime(max(t for t in (cursor, reviewed) if t)),
                    format_datetime(latest),
                )  # fmt: skip
                state.position, state.reviews_checked_until = Position(), None
        checked = [s.reviews_checked_until for s in inbox_states if s.reviews_checked_until]
        reviews_from = min(checked) - timedelta(days=config.lookback_days) if checked else None
        plans[inbox_id] = _InboxPlan(
            _earliest(inbox_states, config.start_date),
            reviews_from,
            [InboxState(recent_versions=dict(s.recent_versions)) for s in inbox_states],
        )
        for state in inbox_states:
            if state.position.receive_time is None and state.reviews_checked_until is None:
                # A fresh walk reads every document with all its versions as of now.
                state.reviews_checked_until = checked_until

    executor = ctx.executor()
    budget = WindowBudget(config.max_concurrency, len(plans))

    def walked(inbox_id: str, start: Position) -> Iterator[WalkedDocument | Covered]:
        """The inbox's documents after `start`: in parallel windows (windows.py) unless
        `parallel_windows` is off, then by the serial keyset walk (walk.py)."""
        if not config.parallel_windows:
            walk_position = Position(start.receive_time, start.last_id)
            for received, doc_id, document in walk_inbox_stamped(
                ctx.client, inbox_id, walk_position, config.page_size, decode=ctx.decode_pages
            ):
                yield WalkedDocument(document, received, doc_id)
            return
        latest = ctx.present() + FUTURE_MARGIN
        with budget.reading():
            for event in read_inbox(
                ctx.client,
                inbox_id,
                start,
                config.page_size,
                budget,
                latest,
                ctx.decode_pages,
                on_total=lambda total: ctx.expect(inbox_id, total),
            ):
                if isinstance(event, Covered):
                    yield event
                else:
                    received, doc_id, document = event.stamped
                    yield WalkedDocument(document, received, doc_id, event.in_prefix)

    def partition(inbox_id: str) -> Iterator[object]:
        plan = plans[inbox_id]
        start = plan.start

        def already_read(received: datetime, doc_id: str) -> bool:
            # Read by an earlier sync (so the walk will not see it again), and in scope.
            in_scope = config.start_date is None or received >= config.start_date
            return in_scope and start.seen(received, doc_id)

        try:
            yield from walked(inbox_id, start)
            if plan.reviews_from is not None:
                yield from late_reviews(
                    ctx.client,
                    executor,
                    inbox_id,
                    plan.reviews_from,
                    sync_started + CLOCK_SKEW_MARGIN,
                    already_read,
                    plan.already_have,
                    counters,
                    per_page=config.page_size,
                    prefetch=2 * config.max_concurrency,
                )
        except PermissionDeniedError:
            ctx.skip_inbox(inbox_id, "forbidden for these credentials (403)")

    def checkpoints() -> Iterator[Checkpoint]:
        for stream in streams:
            for inbox_state in states[stream.name].inboxes.values():
                inbox_state.prune(horizon)
            yield Checkpoint(stream.name, states[stream.name].to_blob())

    since_checkpoint = 0
    warned_future: set[str] = set()
    work = [(inbox_id, lambda i=inbox_id: partition(i)) for inbox_id in plans]
    for item in interleave(work, config.max_concurrency):
        if isinstance(item, PartitionDone):
            yield from checkpoints()
            since_checkpoint = 0
            continue
        inbox_id, event = item
        if isinstance(event, WalkedDocument):
            stamps = version_stamps(event.document, horizon)
            latest = ctx.present() + FUTURE_MARGIN
            future = event.receive_time > latest
            if future and inbox_id not in warned_future:
                warned_future.add(inbox_id)
                logger.warning(
                    "Inbox %s: document %s was received at %s, after the server's present "
                    "plus %s (%s). It is emitted, but the cursor stays before it so that "
                    "documents arriving meanwhile are still read; every sync reads it again "
                    "until then.",
                    inbox_id, event.document_id, format_datetime(event.receive_time),
                    FUTURE_MARGIN, format_datetime(latest),
                )  # fmt: skip
            for stream in streams:
                inbox_state = states[stream.name].inbox(inbox_id)
                if inbox_state.position.seen(event.receive_time, event.document_id):
                    continue
                if not future and event.in_prefix:
                    inbox_state.position.advance(event.receive_time, event.document_id)
                inbox_state.remember(event.document_id, stamps)
                since_checkpoint += yield from _emit(stream, event.document)
        elif isinstance(event, Covered):
            for stream in streams:
                states[stream.name].inbox(inbox_id).position.cover(event.position)
        elif isinstance(event, ReviewedDocument):
            stamps = version_stamps(event.document, horizon)
            for stream in streams:
                states[stream.name].inbox(inbox_id).remember(event.document["id"], stamps)
                since_checkpoint += yield from _emit(stream, event.document)
        elif isinstance(event, ReviewsChecked):
            until = min(event.until, checked_until)
            for stream in streams:
                state = states[stream.name].inbox(inbox_id)
                previous = state.reviews_checked_until
                state.reviews_checked_until = max(previous, until) if previous else until
        if since_checkpoint >= config.checkpoint_interval:
            yield from checkpoints()
            since_checkpoint = 0
    if counters.found:
        logger.info(
            "Late reviews: %d document(s) re-read, %d deleted since their review (skipped).",
            counters.fetched,
            counters.deleted,
        )


def _emit(stream: StreamDef, document: dict[str, Any]) -> Generator[Item, None, int]:
    """Yield the stream's records for one document; returns how many."""
    assert stream.derive is not None
    count = 0
    for record in stream.derive(document):
        count += 1
        yield Record(stream.name, record)
    return count
