"""What one sync shares between streams (`ReadContext`); what it produces is in `events.py`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from source_contractfit.api.client import ContractfitClient, Decoder
from source_contractfit.api.errors import (
    BaseUrlError,
    ConfigError,
    ContractfitError,
    NotFoundError,
    PermissionDeniedError,
    ResponseFormatError,
)
from source_contractfit.config import ConnectorConfig
from source_contractfit.read.concurrency import fetcher_priority
from source_contractfit.timeutil import utcnow

logger = logging.getLogger("source_contractfit.read.context")
MAX_SERVER_AHEAD = timedelta(days=1)
T = TypeVar("T")


def not_the_api_root(request: str, base_url: str) -> BaseUrlError:
    """The error for a 404 on a path every tenant has: base_url points somewhere else."""
    return BaseUrlError(
        f"{request} answered 404: 'base_url' ({base_url}) does not look like the "
        "Contract.fit API root (it usually ends in /api)."
    )


@dataclass
class ReadContext:
    """What one sync shares between streams: config, the HTTP client, resolved inboxes."""

    config: ConnectorConfig
    client: ContractfitClient
    # How the document walk decodes its pages (None: jsonbody.loads). The exporter's
    # `lazy.loads` leaves the annotations and lines it normalizes natively unbuilt.
    decode_pages: Decoder | None = None
    skipped_inboxes: dict[str, str] = field(default_factory=dict)
    _inboxes: list[dict[str, Any]] | None = None
    _executor: ThreadPoolExecutor | None = None
    _memo: dict[Hashable, Any] = field(default_factory=dict)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock)
    # Per inbox, the documents its walk will read (its first page's `total`): progress.
    _expected: dict[str, int] = field(default_factory=dict)

    def expect(self, inbox_id: str, documents: int) -> None:
        """The walk of `inbox_id` will read about `documents` documents."""
        with self._memo_lock:
            self._expected[inbox_id] = documents

    def expected_documents(self) -> int | None:
        """Documents the document walks will read in all, once every inbox's walk has
        said (None before: a total that grows as inboxes start would mislead)."""
        with self._memo_lock:
            inboxes = self._inboxes or []
            waiting = [i for i in inboxes if i["id"] not in self._expected]
            if any(i["id"] not in self.skipped_inboxes for i in waiting):
                return None
            return sum(self._expected.values())

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """compute() once per sync for `key` (facts that do not change during a sync)."""
        with self._memo_lock:
            if key in self._memo:
                return cast(T, self._memo[key])
        value = compute()  # outside the lock: another thread may compute it too, harmlessly
        with self._memo_lock:
            return cast(T, self._memo.setdefault(key, value))

    def present(self) -> datetime:
        """The server's present: its latest `Date` header, or our clock when it sends none.

        Cursors and "today" follow the server, whose data they describe; a `Date` more
        than `MAX_SERVER_AHEAD` ahead of our clock is not believed.
        """
        ours = utcnow()
        theirs = self.client.server_time()
        if theirs is None:
            return ours
        return min(theirs, ours + MAX_SERVER_AHEAD)

    def executor(self) -> ThreadPoolExecutor:
        """Threads for independent requests (documents by id, days of stats)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                self.config.max_concurrency,
                thread_name_prefix="contractfit-fetch",
                initializer=fetcher_priority,  # as nice as the partition readers
            )
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def inboxes(self) -> list[dict[str, Any]]:
        """Inboxes to read: all visible ones, or those of `inbox_ids` (checked to exist)."""
        if self._inboxes is None:
            try:
                self._inboxes = self._resolve_inboxes()
            except ContractfitError as error:
                error.stops_run = True  # every inbox-partitioned stream needs the list
                raise
        return self._inboxes

    def _resolve_inboxes(self) -> list[dict[str, Any]]:
        try:
            visible = expect_list(self.client.get_json("inboxes"), "inboxes")
        except NotFoundError:
            raise not_the_api_root("GET /inboxes", self.config.base_url) from None
        for inbox in visible:
            if not isinstance(inbox, dict) or not isinstance(inbox.get("id"), str):
                raise ResponseFormatError("GET /inboxes: an item has no string 'id'.")
        if not self.config.inbox_ids:
            return visible
        by_id = {inbox["id"]: inbox for inbox in visible}
        selected = []
        for inbox_id in self.config.inbox_ids:
            if inbox_id in by_id:
                selected.append(by_id[inbox_id])
                continue
            # Not listed: either it does not exist (a typo) or we may not see it.
            try:
                self.client.get_json(
                    self.client.path("inboxes/{inbox_id}/document_versions", inbox_id=inbox_id)
                )
            except NotFoundError:
                raise ConfigError(
                    f"'inbox_ids' names {inbox_id}, which does not exist in this tenant."
                ) from None
            except PermissionDeniedError:
                self.skip_inbox(inbox_id, "not visible to these credentials (403)")
                continue
            selected.append({"id": inbox_id, "name": None, "project": None})
        return selected

    def skip_inbox(self, inbox_id: str, reason: str) -> None:
        """Forbidden inboxes are skipped with a warning, or fail the sync if configured."""
        if self.config.fail_on_forbidden_inbox:
            raise PermissionDeniedError(
                f"Inbox {inbox_id} is {reason}; 'fail_on_forbidden_inbox' is set."
            )
        if inbox_id not in self.skipped_inboxes:
            logger.warning("Skipping inbox %s: %s.", inbox_id, reason)
        self.skipped_inboxes[inbox_id] = reason


def expect_list(body: Any, path: str) -> list[Any]:
    if not isinstance(body, list):
        raise ResponseFormatError(
            f"GET /{path}: expected a JSON array (API.md), got {type(body).__name__}."
        )
    return body
