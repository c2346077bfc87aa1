"""Documents per inbox: sorted index, cached JSON bytes, stats facts, and mutations.

Each inbox keeps its live documents sorted by `(receive_us, id)` so that receive-time
windows are two bisects and the default orders are plain slices. A document's JSON is
serialized once and reused until the document changes; the cache is bounded in bytes
(documents beyond the budget are rebuilt per request rather than evicting others,
which keeps sequential scans from thrashing).
"""

from __future__ import annotations

import bisect
import gc
import random
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import orjson

from .clock import VirtualClock
from .directory import Directory, Inbox
from .facts import DocFacts, extract
from .generator import (
    BURST_SHARE,
    REPROCESS,
    REVIEW,
    DocSpec,
    Event,
    generate_base,
    layout_arrivals,
    mix_seed,
    plan_history,
)
from .history import replay
from .render import render
from .timeutil import US
from .variants import Variants

# An order: key "receive_time" or "id" with a descending flag, then the id tiebreak.
Order = tuple[tuple[str, bool], ...]
DEFAULT_ORDER: Order = (("receive_time", True),)


class DocRecord:
    """A live document: its spec, its stats facts, and maybe its serialized body."""

    __slots__ = ("spec", "facts", "data")

    def __init__(self, spec: DocSpec, facts: DocFacts) -> None:
        self.spec = spec
        self.facts = facts
        self.data: bytes | None = None


@dataclass(slots=True)
class InboxDocs:
    """The sorted index of one inbox."""

    inbox: Inbox
    keys: list[tuple[int, str]]
    generation: int = 0


def split_counts(total: int, parts: int) -> list[int]:
    """`total` spread over `parts`: equal shares, the remainder to the first ones."""
    if parts <= 0:
        return []
    share, extra = divmod(max(total, 0), parts)
    return [share + (1 if i < extra else 0) for i in range(parts)]


class Store:
    """All documents of the tenant, thread-safe behind one re-entrant lock."""

    def __init__(
        self,
        directory: Directory,
        clock: VirtualClock,
        documents: int,
        days: int,
        cache_bytes: int = 1536 * 1024 * 1024,
        burst_share: float = BURST_SHARE,
    ) -> None:
        self.directory = directory
        self.clock = clock
        self.burst_share = burst_share
        self.seed = directory.seed
        self.lock = threading.RLock()
        self.records: dict[str, DocRecord] = {}
        self.inboxes: dict[str, InboxDocs] = {}
        self.cache_limit = cache_bytes
        self.cache_used = 0
        self.format_ids = [f["id"] for f in directory.formats]
        self.reviewer_ids = [u.id for u in directory.reviewers]
        self.rng = random.Random(mix_seed(self.seed, 0xC0))
        self._arrivals = 0
        self._sorted_cache: dict[tuple[object, ...], list[tuple[int, str]]] = {}
        # The data-level variants the renderer reads (Core points this at its live
        # `variants`); cached bodies are dropped when a rendering switch changes.
        self.variants: Callable[[], Variants] = Variants
        self._rendered_empty_lists = False
        counts = split_counts(documents, len(directory.inboxes))
        gc_was_enabled = gc.isenabled()
        gc.disable()  # millions of long-lived small objects: cyclic GC passes only cost time
        try:
            for inbox, count in zip(directory.inboxes, counts, strict=True):
                self._generate_inbox(inbox, count, days)
        finally:
            if gc_was_enabled:
                gc.enable()

    # ------------------------------------------------------------ building

    def _generate_inbox(self, inbox: Inbox, count: int, days: int) -> None:
        start = self.clock.start_us
        layout_rng = random.Random(mix_seed(self.seed, 0xA11, inbox.position))
        keys: list[tuple[int, str]] = []
        for k, (receive, burst_pos, batch) in enumerate(
            layout_arrivals(layout_rng, count, start, days, self.burst_share)
        ):
            seed = mix_seed(self.seed, inbox.position, k)
            spec = DocSpec(self._new_id(receive, seed), inbox, seed, receive, burst_pos, batch)
            base = generate_base(spec, self.format_ids)
            spec.events = plan_history(spec, base, start, len(self.reviewer_ids))
            facts = extract(spec, base, replay(spec, base, self.reviewer_ids))
            self.records[spec.id] = DocRecord(spec, facts)
            keys.append((receive, spec.id))
        keys.sort()
        self.inboxes[inbox.id] = InboxDocs(inbox, keys)

    def _new_id(self, receive_us: int, seed: int) -> str:
        salt = 0
        while True:
            doc_id = f"{(receive_us // US) & 0xFFFFFFFF:08x}{mix_seed(seed, 0x1D, salt):016x}"
            if doc_id not in self.records:
                return doc_id
            salt += 1

    def _refresh(self, record: DocRecord) -> None:
        """Recompute facts and drop cached bytes after the spec changed."""
        spec = record.spec
        base = generate_base(spec, self.format_ids)
        record.facts = extract(spec, base, replay(spec, base, self.reviewer_ids))
        if record.data is not None:
            self.cache_used -= len(record.data)
            record.data = None

    # ------------------------------------------------------------ reading

    def document(self, record: DocRecord, empty_lists: bool | None = None) -> dict:
        """The full Document of a record as a dict (rebuilt, not cached)."""
        if empty_lists is None:
            empty_lists = self.variants().empty_evaluated_lists
        spec = record.spec
        base = generate_base(spec, self.format_ids)
        return render(spec, base, self.reviewer_ids, empty_evaluated_lists=empty_lists)

    def _rendering(self) -> bool:
        """The live `empty_evaluated_lists`; cached bodies built otherwise are dropped."""
        empty_lists = self.variants().empty_evaluated_lists
        if empty_lists != self._rendered_empty_lists:
            for record in self.records.values():
                record.data = None
            self.cache_used = 0
            self._rendered_empty_lists = empty_lists
        return empty_lists

    def document_bytes(self, record: DocRecord) -> bytes:
        """Serialized Document, from the cache when possible."""
        empty_lists = self._rendering()
        data = record.data
        if data is None:
            data = orjson.dumps(self.document(record, empty_lists))
            if self.cache_used + len(data) <= self.cache_limit:
                record.data = data
                self.cache_used += len(data)
        return data

    def warm_cache(self, stop: threading.Event) -> int:
        """Serialize every document into the cache (newest first) until full or stopped.

        Takes the lock per document so that requests interleave; returns the count.
        """
        done = 0
        for inbox_id in list(self.inboxes):
            for _t, doc_id in reversed(list(self.inboxes[inbox_id].keys)):
                if stop.is_set() or self.cache_used >= self.cache_limit:
                    return done
                with self.lock:
                    record = self.records.get(doc_id)
                    if record is not None and record.data is None:
                        self.document_bytes(record)
                        done += 1
        return done

    def get(self, doc_id: str) -> DocRecord | None:
        return self.records.get(doc_id)

    def window_bounds(self, inbox_id: str, start: int | None, end: int | None) -> tuple[int, int]:
        """Index range of `[start, end)` on receive time in the inbox's sorted keys."""
        keys = self.inboxes[inbox_id].keys
        lo = 0 if start is None else bisect.bisect_left(keys, (start, ""))
        hi = len(keys) if end is None else bisect.bisect_left(keys, (end, ""))
        return lo, max(lo, hi)

    def page(
        self,
        inbox_id: str,
        start: int | None,
        end: int | None,
        order: Order,
        page: int,
        per_page: int,
    ) -> tuple[int, list[bytes]]:
        """Total in the window and the serialized documents of one page."""
        docs = self.inboxes[inbox_id]
        keys = docs.keys
        lo, hi = self.window_bounds(inbox_id, start, end)
        total = hi - lo
        offset = (page - 1) * per_page
        if offset >= total:
            return total, []
        count = min(per_page, total - offset)
        first, first_desc = order[0]
        id_desc = order[1][1] if len(order) > 1 else first_desc
        if first == "receive_time" and not first_desc and not id_desc:
            chosen = keys[lo + offset : lo + offset + count]
        elif first == "receive_time" and first_desc and id_desc:
            top = hi - offset
            chosen = keys[top - count : top][::-1]
        else:
            chosen = self._sorted(docs, lo, hi, order)[offset : offset + count]
        records = self.records
        return total, [self.document_bytes(records[doc_id]) for _t, doc_id in chosen]

    def _sorted(self, docs: InboxDocs, lo: int, hi: int, order: Order) -> list[tuple[int, str]]:
        """Window sorted by an order the index does not give directly (memoized)."""
        key = (docs.inbox.id, docs.generation, lo, hi, order)
        cached = self._sorted_cache.get(key)
        if cached is not None:
            return cached
        items = docs.keys[lo:hi]
        first, first_desc = order[0]
        if first == "id":
            items = sorted(items, key=lambda k: k[1], reverse=first_desc)
        else:
            id_desc = order[1][1] if len(order) > 1 else first_desc
            items = sorted(items, key=lambda k: k[1], reverse=id_desc)
            items.sort(key=lambda k: k[0], reverse=first_desc)
        if len(self._sorted_cache) > 32:
            self._sorted_cache.clear()
        self._sorted_cache[key] = items
        return items

    def facts(
        self, inbox_id: str, start: int | None = None, end: int | None = None
    ) -> Iterator[DocFacts]:
        """Facts of the inbox's documents received in `[start, end)`, oldest first."""
        lo, hi = self.window_bounds(inbox_id, start, end)
        records = self.records
        for _t, doc_id in self.inboxes[inbox_id].keys[lo:hi]:
            yield records[doc_id].facts

    def live_ids(self, inbox_id: str) -> list[str]:
        return [doc_id for _t, doc_id in self.inboxes[inbox_id].keys]

    # ------------------------------------------------------------ mutations

    def _bump(self, inbox_id: str) -> None:
        self.inboxes[inbox_id].generation += 1

    def arrive(self, inbox_id: str, count: int, receive_us: int | None = None) -> list[str]:
        """New documents, all received at `receive_us` (default: now); none reviewed yet."""
        docs = self.inboxes[inbox_id]
        when = self.clock.now() if receive_us is None else receive_us
        batch = (1 << 32) + self._arrivals if count > 1 else None  # never a generated key
        ids = []
        for pos in range(count):
            self._arrivals += 1
            seed = mix_seed(self.seed, 0xA7, self._arrivals)
            spec = DocSpec(self._new_id(when, seed), docs.inbox, seed, when, pos, batch)
            base = generate_base(spec, self.format_ids)
            record = DocRecord(spec, extract(spec, base, replay(spec, base, self.reviewer_ids)))
            self.records[spec.id] = record
            bisect.insort(docs.keys, (when, spec.id))
            ids.append(spec.id)
        self._bump(inbox_id)
        return ids

    def delete(self, doc_ids: Iterable[str]) -> list[str]:
        """Remove documents; unknown ids are skipped. Returns the ids removed."""
        removed = []
        for doc_id in doc_ids:
            record = self.records.pop(doc_id, None)
            if record is None:
                continue
            docs = self.inboxes[record.spec.inbox.id]
            key = (record.spec.receive_us, doc_id)
            i = bisect.bisect_left(docs.keys, key)
            if i < len(docs.keys) and docs.keys[i] == key:
                del docs.keys[i]
            if record.data is not None:
                self.cache_used -= len(record.data)
            self._bump(docs.inbox.id)
            removed.append(doc_id)
        return removed

    def _append_event(self, record: DocRecord, event: Event) -> None:
        record.spec.events = (*record.spec.events, event)
        self._refresh(record)

    def review(self, doc_ids: Iterable[str], careful: bool = True) -> list[str]:
        """A reviewer submits now: adds a human version and an evaluated machine copy."""
        now = self.clock.now()
        done = []
        for doc_id in doc_ids:
            record = self.records.get(doc_id)
            if record is None:
                continue
            reviewer = self.rng.randrange(len(self.reviewer_ids))
            self._append_event(
                record, (REVIEW, max(now, self._last_t(record) + 1), reviewer, not careful)
            )
            done.append(doc_id)
        return done

    def reprocess(self, doc_ids: Iterable[str], name: str = "reprocessed") -> list[str]:
        """The model runs again now (re-evaluated when a human version exists)."""
        now = self.clock.now()
        done = []
        for doc_id in doc_ids:
            record = self.records.get(doc_id)
            if record is None:
                continue
            self._append_event(record, (REPROCESS, max(now, self._last_t(record) + 1), name))
            done.append(doc_id)
        return done

    @staticmethod
    def _last_t(record: DocRecord) -> int:
        return max([record.facts.versions[-1][4]] + [e[1] for e in record.spec.events])

    def pick(self, inbox_id: str | None, count: int, unreviewed: bool = False) -> list[str]:
        """Seeded random choice of live documents; with `unreviewed`, those first."""
        inbox_ids = [inbox_id] if inbox_id else list(self.inboxes)
        pool = [doc_id for i in inbox_ids for doc_id in self.live_ids(i)]
        if not unreviewed:
            return self.rng.sample(pool, min(count, len(pool)))
        fresh = [d for d in pool if self._reviewable(self.records[d].facts)]
        if len(fresh) >= count:
            return self.rng.sample(fresh, count)
        fresh_set = set(fresh)
        rest = [d for d in pool if d not in fresh_set]
        return fresh + self.rng.sample(rest, min(count - len(fresh), len(rest)))

    @staticmethod
    def _reviewable(facts: DocFacts) -> bool:
        return not facts.rejected and not any(v[1] == "human" for v in facts.versions)
