"""`Emulator`: the whole fake Contract.fit tenant served from a background thread."""

from __future__ import annotations

import threading
from types import TracebackType

from .control import EmulatorControl
from .core import Core, Latency
from .faults import DEFAULT_KINDS, FaultConfig, parse_kinds
from .generator import BURST_SHARE
from .server import EmulatorHTTPServer
from .timeutil import parse_us
from .variants import Variants


class Emulator:
    """In-process emulator; use as a context manager or call `start()`/`stop()`.

    `prefill` serializes every document into the response cache in a background thread
    after start, so that a first full read is as fast as later ones. `documents` is
    the total over all inboxes (inbox i gets documents // inboxes, the
    remainder going to the first ones). `now` pins the virtual start instant (ISO 8601)
    so that the same seed yields byte-identical data; default: the current second.
    `variants` switches on other legal readings of API.md (`variants.py`); all off by default.
    """

    def __init__(
        self,
        seed: int = 42,
        inboxes: int = 3,
        documents: int = 1000,
        host: str = "127.0.0.1",
        port: int = 0,
        now: str | None = None,
        jwt_lifetime: int = 900,
        days: int = 120,
        fault_rate: float = 0.0,
        faults: list[str] | str | None = None,
        fault_seed: int = 1,
        cache_mb: int = 1536,
        prefill: bool = False,
        variants: Variants | None = None,
        latency_ms: float = 0.0,
        latency_per_doc_ms: float = 0.0,
        burst_share: float = BURST_SHARE,
    ) -> None:
        kinds = parse_kinds(faults) if faults else DEFAULT_KINDS
        self.core = Core(
            seed=seed,
            inboxes=inboxes,
            documents=documents,
            now=parse_us(now) if now else None,
            jwt_lifetime=jwt_lifetime,
            days=days,
            faults=FaultConfig(rate=fault_rate, kinds=kinds, seed=fault_seed),
            cache_mb=cache_mb,
            variants=variants,
            burst_share=burst_share,
        )
        self.core.latency = Latency(latency_ms, latency_per_doc_ms)
        self.host = host
        self._server = EmulatorHTTPServer((host, port), self.core)
        self.port: int = self._server.server_address[1]
        self.base_url = f"http://{host}:{self.port}/api"  # ignore-https-check: on loopback
        self.control_url = f"http://{host}:{self.port}/_control"  # ignore-https-check
        self.control = EmulatorControl(self.control_url)
        self._thread: threading.Thread | None = None
        self._prefill = prefill
        self._stopping = threading.Event()

    @property
    def inbox_ids(self) -> list[str]:
        return [i.id for i in self.core.directory.inboxes]

    def _start_prefill(self) -> None:
        if self._prefill:
            threading.Thread(
                target=self.core.store.warm_cache,
                args=(self._stopping,),
                name="contractfit-emulator-prefill",
                daemon=True,
            ).start()

    def start(self) -> Emulator:
        """Serve in a daemon thread (idempotent)."""
        if self._thread is None:
            self._start_prefill()
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"contractfit-emulator:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until `stop()` (used by the CLI)."""
        self._start_prefill()
        self._server.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        """Stop serving, cut kept-alive connections, release the port."""
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.close_connections()
        self._server.server_close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
