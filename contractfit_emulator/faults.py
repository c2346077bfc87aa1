"""Seeded fault injection on `/api` requests, and churn (mutations between requests).

Faults are drawn from their own seeded RNG, so a given configuration produces the
same sequence of faults for the same sequence of requests.
"""

from __future__ import annotations

import random
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .params import name_list

# The hostile kinds (`cut` .. `gzip_bomb`) look like success; they are never defaults.
FAULT_KINDS = (
    "429", "500", "502", "503", "504", "drop", "slow", "truncate",
    "cut", "trickle", "oversize", "gzip_bomb",
)  # fmt: skip
DEFAULT_KINDS = ("429", "500", "502", "503", "drop", "slow", "truncate")
MIB = 1024 * 1024


@dataclass(slots=True)
class FaultConfig:
    """What to inject and how often."""

    rate: float = 0.0
    kinds: tuple[str, ...] = DEFAULT_KINDS
    seed: int = 1
    retry_after: int = 1
    slow_seconds: float = 2.0  # `slow`: the delay; `trickle`: the delay between bytes
    paths: tuple[str, ...] | None = None  # prefixes under /api, e.g. "/inboxes"
    oversize_mb: int = 300  # `oversize`: the size of the body
    bomb_mb: int = 1024  # `gzip_bomb`: the size of the body once inflated

    def body(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "kinds": list(self.kinds),
            "seed": self.seed,
            "retry_after": self.retry_after,
            "slow_seconds": self.slow_seconds,
            "paths": list(self.paths) if self.paths is not None else None,
            "oversize_mb": self.oversize_mb,
            "bomb_mb": self.bomb_mb,
        }


# A valid JSON page of any exact size: `{"results":[0,0,...,0]}`, padded with one space.
_HEAD, _TAIL = b'{"results":[', b"0]}"
_ZEROS = b"0," * (MIB // 2)  # 1 MiB of array items


def oversize_chunks(size: int) -> Iterator[bytes]:
    """The body of `oversize`: exactly `size` bytes (>= 16) of valid JSON, in 1 MiB chunks,
    never built whole."""
    yield _HEAD
    middle = size - len(_HEAD) - len(_TAIL)
    full, rest = divmod(middle, len(_ZEROS))
    for _ in range(full):
        yield _ZEROS
    yield b"0," * (rest // 2) + b" " * (rest % 2) + _TAIL


_bombs: dict[int, bytes] = {}
_bombs_lock = threading.Lock()


def gzip_bomb(size: int) -> bytes:
    """A gzip member that inflates to `size` bytes of `oversize_chunks(size)`: about a
    thousandth of that compressed. Computed once per size (1 GiB: ~2 s) and cached."""
    with _bombs_lock:
        cached = _bombs.get(size)
        if cached is None:
            packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip wrapper
            parts = [packer.compress(chunk) for chunk in oversize_chunks(size)]
            parts.append(packer.flush())
            cached = _bombs[size] = b"".join(parts)
        return cached


def parse_kinds(kinds: Any) -> tuple[str, ...]:
    """Validate fault kinds from JSON (list) or CLI (comma-separated string)."""
    return name_list(kinds, FAULT_KINDS, "kinds must be a non-empty list", "fault kinds")


class FaultInjector:
    """Decides, per API request, whether and how to fail it."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)

    def draw(self, api_path: str) -> str | None:
        """The fault kind for this request (path relative to /api), or None."""
        config = self.config
        if config.rate <= 0:
            return None
        if config.paths is not None and not any(api_path.startswith(p) for p in config.paths):
            return None
        with self._lock:
            if self._rng.random() >= config.rate:
                return None
            return config.kinds[self._rng.randrange(len(config.kinds))]


@dataclass(slots=True)
class ChurnConfig:
    """After every `every`-th successful API request whose path contains `path_contains`."""

    path_contains: str = "/paginated"
    every: int = 0
    arrive: int = 0
    delete: int = 0
    review: int = 0
    inbox_id: str | None = None
    seen: int = 0
    applied: int = 0

    def body(self) -> dict[str, Any]:
        return {
            "path_contains": self.path_contains,
            "every": self.every,
            "arrive": self.arrive,
            "delete": self.delete,
            "review": self.review,
            "inbox_id": self.inbox_id,
            "seen": self.seen,
            "applied": self.applied,
        }
