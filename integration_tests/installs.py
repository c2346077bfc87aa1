"""Venvs built from the project's wheel, in the background, for test_installs.py.

Two installs a user makes, each in a fresh venv:
- `base`: `pip install source-contractfit`, the Airbyte source alone;
- `pyairbyte`: `pip install airbyte source-contractfit`, one resolution of both.

They take a minute or two of pip and a compile of the C extension, so `conftest.py` starts
the ones the selected tests use when the session has collected them, and the rest of the
suite runs meanwhile; the builds run at the lowest CPU priority, so the tests in the
foreground keep the machine. The wheel is built from a clean copy of the source (no
`build/` left over from an earlier in-place build). At the end of the session, builds
still running are killed and everything is removed. They need PyPI, as the test command's
install does.
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
# Left out of the copy the wheel is built from: build output, venvs, caches, local data.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", "*.so", ".*_cache",
    ".hypothesis", "demo-output", "generated", "*.duckdb*",
)  # fmt: skip

# The lowest CPU priority (`nice`, not a preexec_fn, which is unsafe beside threads).
NICE = ("nice", "-n", "19") if shutil.which("nice") else ()

_lock = threading.Lock()
_builds: dict[str, Future[Venv]] = {}
_running: set[subprocess.Popen[str]] = set()
# One worker builds the wheel, the others the venvs (each waits for the wheel first).
_pool = ThreadPoolExecutor(max_workers=len(INSTALLS) + 1, thread_name_prefix="venv-build")
_work: Path | None = None
_wheel: Future[Path] | None = None
_stopping = False


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
        """Installed distribution -> version (`pip list` of this venv, names normalized)."""
        done = subprocess.run(
            [self.python, "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        pairs = (line.split("==", 1) for line in done.stdout.splitlines() if "==" in line)
        return {name.lower().replace("_", "-"): version for name, version in pairs}


def _run(command: list[str], log: list[str]) -> None:
    """Run one build step at the lowest priority; killed by `cleanup`."""
    with _lock:
        if _stopping:
            raise RuntimeError("the session ended before this build step")
        process = subprocess.Popen(
            [*NICE, *command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        _running.add(process)
    try:
        output, _ = process.communicate(timeout=BUILD_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    finally:
        with _lock:
            _running.discard(process)
    log.append(f"$ {' '.join(command)}\n{output}")
    if process.returncode != 0:
        raise RuntimeError(f"exit {process.returncode}: {' '.join(command)}\n" + "\n".join(log))


def _build_wheel() -> Path:
    """The project's wheel, built once from a clean copy of the source."""
    assert _work is not None
    source, out = _work / "source", _work / "wheel"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(source)], [])
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


def start(names: tuple[str, ...] = tuple(INSTALLS)) -> None:
    """Start the builds of `names` that have not started (idempotent)."""
    global _wheel, _work
    with _lock:
        if _wheel is None:
            _work = Path(tempfile.mkdtemp(prefix="contractfit-installs-"))
            _wheel = _pool.submit(_build_wheel)
        for name in names:
            if name not in _builds:
                _builds[name] = _pool.submit(_build, name)


def wheel() -> Path:
    """The project's wheel (its build started now if nobody started it)."""
    start(())
    assert _wheel is not None
    return _wheel.result(timeout=BUILD_SECONDS)


def venv(name: str) -> Venv:
    """The venv `name`, waiting for its build (started now if nobody started it)."""
    start((name,))
    return _builds[name].result(timeout=BUILD_SECONDS)


def cleanup() -> None:
    """Stop what is still building (a test run cut short does not wait for pip), then
    remove every venv and the wheel."""
    global _stopping
    with _lock:
        _stopping = True
        for process in _running:
            process.kill()
    _pool.shutdown(wait=True, cancel_futures=True)
    if _work is not None:
        shutil.rmtree(_work, ignore_errors=True)
