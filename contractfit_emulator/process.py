"""`EmulatorProcess`: the emulator in its own OS process (own core, killable with -9)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from .control import EmulatorControl

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class EmulatorProcess:
    """Runs `python -m contractfit_emulator` and waits until it serves.

    Takes the same keyword arguments as `Emulator`; exposes `base_url`, `control_url`,
    `port`, `pid`, `control` and the process log (`log_path`) once started.
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
        latency_ms: float = 0.0,
        latency_per_doc_ms: float = 0.0,
        burst_share: float | None = None,
        startup_timeout: float = 180.0,
        python: str | None = None,
    ) -> None:
        args = [
            "--host",
            host,
            "--port",
            str(port),
            "--seed",
            str(seed),
            "--inboxes",
            str(inboxes),
            "--documents",
            str(documents),
            "--days",
            str(days),
            "--jwt-lifetime",
            str(jwt_lifetime),
            "--fault-rate",
            str(fault_rate),
            "--fault-seed",
            str(fault_seed),
            "--cache-mb",
            str(cache_mb),
        ]
        if now:
            args += ["--now", now]
        if prefill:
            args.append("--prefill")
        if burst_share is not None:
            args += ["--burst-share", str(burst_share)]
        if latency_ms or latency_per_doc_ms:
            args += [
                "--latency-ms",
                str(latency_ms),
                "--latency-per-doc-ms",
                str(latency_per_doc_ms),
            ]
        if faults:
            args += ["--faults", faults if isinstance(faults, str) else ",".join(faults)]
        self._args = args
        self._python = python or sys.executable
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.control_url = ""
        self.port = 0
        self.pid = 0
        self.inbox_ids: list[str] = []
        self._control: EmulatorControl | None = None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self.log_path: str | None = None

    def start(self) -> EmulatorProcess:
        self._tmpdir = tempfile.TemporaryDirectory(prefix="cf-emulator-")
        ready = os.path.join(self._tmpdir.name, "ready.json")
        self.log_path = os.path.join(self._tmpdir.name, "emulator.log")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p
        )
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    self._python,
                    "-m",
                    "contractfit_emulator",
                    *self._args,
                    "--ready-file",
                    ready,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + self.startup_timeout
        while not os.path.exists(ready):
            if self.process.poll() is not None:
                raise RuntimeError(f"emulator exited with {self.process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"emulator not ready after {self.startup_timeout}s")
            time.sleep(0.05)
        with open(ready, encoding="utf-8") as handle:
            info: dict[str, Any] = json.load(handle)
        self.base_url = info["base_url"]
        self.control_url = info["control_url"]
        self.port = info["port"]
        self.pid = info["pid"]
        self.inbox_ids = info.get("inboxes", [])
        self._control = EmulatorControl(self.control_url)
        return self

    @property
    def control(self) -> EmulatorControl:
        """Client of the process's `/_control` endpoints (after `start()`)."""
        if self._control is None:
            raise RuntimeError("EmulatorProcess is not started")
        return self._control

    def log(self) -> str:
        """What the process printed so far."""
        if self.log_path and os.path.exists(self.log_path):
            return Path(self.log_path).read_text(encoding="utf-8", errors="replace")
        return ""

    def kill(self) -> None:
        """SIGKILL the server (crash tests); `stop()` still cleans up afterwards."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s; removes the temporary files."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
