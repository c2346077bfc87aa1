"""Venvs built from the project's wheel, in the background, for test_installs.py.

Two installs a user makes, each in a fresh venv (pip's cache makes the second download
free):
- `base`: `pip install source-contractfit`, the Airbyte source alone;
- `pyairbyte`: `pip install airbyte source-contractfit`, one resolution of both.

They take a minute or two of pip, mostly waiting on unpacking, so `conftest.py` starts
them when the session collects test_installs.py and the rest of the suite runs meanwhile.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALLS: dict[str, tuple[str, ...]] = {"base": (), "pyairbyte": ("airbyte",)}
BUILD_SECONDS = 600

_lock = threading.Lock()
_builds: dict[str, Future[Venv]] = {}
# One worker builds the wheel, the others the venvs (each waits for the wheel first).
_pool = ThreadPoolExecutor(max_workers=len(INSTALLS) + 1, thread_name_prefix="venv-build")
_work: Path | None = None
_wheel: Future[Path] | None = None


@dataclass(frozen=True)
class Venv:
    path: Path
    log: str

    @property
    def python(self) -> str:
        return str(self.path / "bin" / "python")

    def bin(self, name: str) -> str:
        return str(self.path / "bin" / name)

    def versions(self) -> dict[str, str]:
        """Installed distribution -> version (`pip freeze` of this venv, names lowered)."""
        done = subprocess.run(
            [self.python, "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        pairs = (line.split("==", 1) for line in done.stdout.splitlines() if "==" in line)
        return {name.lower().replace("_", "-"): version for name, version in pairs}


def _run(command: list[str], log: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_SECONDS)
    log.append(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}")
    if done.returncode != 0:
        raise RuntimeError(f"exit {done.returncode}: {' '.join(command)}\n" + "\n".join(log))


def _build_wheel() -> Path:
    """The project's wheel, built once (with its C extension where a compiler is here)."""
    assert _work is not None
    out = _work / "wheel"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)], [])
    (wheel,) = out.glob("source_contractfit-*.whl")
    return wheel


def _build(name: str) -> Venv:
    assert _wheel is not None and _work is not None
    wheel = _wheel.result()
    path = _work / name
    log: list[str] = []
    _run([sys.executable, "-m", "venv", str(path)], log)
    pip = [str(path / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile"]
    _run([*pip, "--disable-pip-version-check", *INSTALLS[name], str(wheel)], log)
    return Venv(path, "\n".join(log))


def start() -> None:
    """Start every build that has not started (idempotent)."""
    global _wheel, _work
    with _lock:
        if _wheel is None:
            _work = Path(tempfile.mkdtemp(prefix="contractfit-installs-"))
            _wheel = _pool.submit(_build_wheel)
        for name in INSTALLS:
            if name not in _builds:
                _builds[name] = _pool.submit(_build, name)


def wheel() -> Path:
    """The project's wheel (built now if nobody started the builds)."""
    start()
    assert _wheel is not None
    return _wheel.result(timeout=BUILD_SECONDS)


def venv(name: str) -> Venv:
    """The venv `name`, waiting for its build (started now if nobody started it)."""
    start()
    return _builds[name].result(timeout=BUILD_SECONDS)


def cleanup() -> None:
    """Wait for the builds (a venv half written is not left behind), then remove them."""
    with _lock:
        futures = list(_builds.values())
    for future in futures:
        future.exception()
    _pool.shutdown(wait=True)
    if _work is not None:
        shutil.rmtree(_work, ignore_errors=True)
