"""The emulator's state in one object: tenant, clock, documents, auth, faults, counters.

HTTP handlers and control handlers receive this object; nothing else is global, so
several emulators can run side by side in one process.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass

from .auth import Authenticator
from .clock import VirtualClock
from .directory import build_directory
from .faults import ChurnConfig, FaultConfig, FaultInjector
from .generator import BURST_SHARE
from .store import Store
from .timeutil import parse_us
from .variants import FUTURE_RECEIVE_TIME, Variants


@dataclass
class Latency:
    """What a real tenant across the internet adds to every answer: a fixed delay per
    request and a delay per Document served (rendering and sending ~13 KB each). Each
    answer waits in its own connection's thread, so slow requests overlap."""

    per_request_ms: float = 0.0
    per_document_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.per_request_ms < 0 or self.per_document_ms < 0:
            raise ValueError("latencies must be >= 0")


class Core:
    """Everything a request may read or change."""

    def __init__(
        self,
        seed: int = 42,
        inboxes: int = 3,
        documents: int = 1000,
        now: int | None = None,
        jwt_lifetime: int = 900,
        days: int = 120,
        faults: FaultConfig | None = None,
        cache_mb: int = 1536,
        variants: Variants | None = None,
        burst_share: float = BURST_SHARE,
    ) -> None:
        if inboxes < 1:
            raise ValueError("inboxes must be >= 1")
        if documents < 0:
            raise ValueError("documents must be >= 0")
        if days < 1:
            raise ValueError("days must be >= 1")
        self.seed = seed
        self.clock = VirtualClock(now)
        self.directory = build_directory(seed, inboxes, self.clock.start_us)
        if not 0 <= burst_share <= 1:
            raise ValueError("burst_share must be between 0 and 1")
        self.store = Store(
            self.directory, self.clock, documents, days, cache_mb * 1024 * 1024, burst_share
        )
        self.auth = Authenticator(self.directory, self.clock, jwt_lifetime)
        self.faults = FaultInjector(faults)
        self.churn = ChurnConfig()
        self.variants = variants or Variants()
        self.store.variants = lambda: self.variants  # the renderer reads the live switches
        if self.variants.future_document:
            self.store.arrive(self.directory.inboxes[0].id, 1, parse_us(FUTURE_RECEIVE_TIME))
        self._counts: defaultdict[str, defaultdict[str, int]] = defaultdict(
            lambda: defaultdict(int)
        )
        self._counts_lock = threading.Lock()
        self.documents_served = 0  # Documents in 200 answers (pages and single documents)
        self.page_sizes: defaultdict[int, int] = defaultdict(int)  # /paginated by per_page
        self.latency = Latency()

    # ------------------------------------------------------------ latency

    def delay(self, documents: int) -> float:
        """Seconds an answer serving `documents` Documents waits before it is sent."""
        latency = self.latency
        return (latency.per_request_ms + latency.per_document_ms * documents) / 1000.0

    # ------------------------------------------------------------ request counters

    def count(self, method: str, template: str, status: str, documents: int = 0) -> None:
        """Record one API request under `METHOD /template` and its status (or fault), and
        the Documents it served."""
        with self._counts_lock:
            self._counts[f"{method} {template}"][status] += 1
            self.documents_served += documents

    def counts(self) -> dict[str, dict[str, int]]:
        with self._counts_lock:
            return {key: dict(statuses) for key, statuses in sorted(self._counts.items())}

    def reset_counts(self) -> None:
        with self._counts_lock:
            self._counts.clear()
            self.documents_served = 0
            self.page_sizes.clear()

    def count_page_size(self, per_page: int) -> None:
        """Record the `per_page` of one /paginated request (probes ask for 1)."""
        with self._counts_lock:
            self.page_sizes[per_page] += 1

    def page_size_counts(self) -> dict[str, int]:
        with self._counts_lock:
            return {str(size): n for size, n in sorted(self.page_sizes.items())}

    # ------------------------------------------------------------ churn

    def after_request(self, path: str, inbox_id: str | None) -> None:
        """Apply churn after a successful API request matching the churn rule."""
        churn = self.churn
        if churn.every <= 0 or churn.path_contains not in path:
            return
        with self.store.lock:
            churn.seen += 1
            if churn.seen % churn.every:
                return
            target = churn.inbox_id or inbox_id or self.directory.inboxes[0].id
            if target not in self.store.inboxes:
                target = self.directory.inboxes[0].id
            store = self.store
            if churn.arrive:
                store.arrive(target, churn.arrive)
            if churn.delete:
                store.delete(store.pick(target, churn.delete))
            if churn.review:
                store.review(store.pick(target, churn.review, unreviewed=True))
            churn.applied += 1
