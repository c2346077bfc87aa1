"""The Parquet folder's own files and paths, none of which is trusted blindly.

Partition values are percent-encoded, so an id can neither leave the folder (`../..`) nor
break Hive parsing (`x=y`, `a/b`); every path written or deleted is checked to lie inside
the folder; the intent and state files are validated before use; one lock keeps a second
writer out. Whatever is wrong with them is a `ConfigError` (exit 2) saying how to recover.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from source_contractfit.api.errors import ConfigError, ResponseFormatError
from source_contractfit.export.sinks.base import StoredState

STATE_FILE = "_contractfit_state.json"
INTENT_FILE = "_contractfit_intent.json"
LOCK_FILE = "_contractfit.lock"
MAX_NAME_BYTES = 255  # a folder name, on every common file system


def hive_segment(column: str, value: str) -> str:
    """`column=value` with the value percent-encoded as DuckDB and pyarrow (segment_encoding
    "uri") decode it: no `/`, `=`, `%`, `\\` or control character stays literal, and `.`
    and `..` (kept by `quote`) are encoded too, so no segment names a parent folder.
    The one value readers cannot carry is `__HIVE_DEFAULT_PARTITION__`: they read NULL."""
    encoded = quote(value, safe="")
    if encoded in (".", ".."):
        encoded = encoded.replace(".", "%2E")
    segment = f"{column}={encoded}"
    if len(segment.encode()) > MAX_NAME_BYTES:
        # API.md's ids are 24 hex characters; only a server breaking that sends such a
        # value, and no file system could name its folder: one clear line, not OSError.
        raise ResponseFormatError(
            f"A {column} of {len(value)} characters ({value[:40]!r}…) cannot be a Parquet "
            f"partition folder: encoded, its name exceeds {MAX_NAME_BYTES} bytes (API.md's "
            "ids are 24 hex characters). Export this data to DuckDB instead."
        )
    return segment


def inside(root: Path, path: Path) -> Path:
    """`path`, after proving its folder resolves (symlinks followed) inside `root`: the
    entry itself is what gets written, renamed or deleted, never a link's target."""
    real_root = root.resolve()
    name = path.name
    if name in ("", ".", "..") or not path.parent.resolve().is_relative_to(real_root):
        raise ConfigError(
            f"Refusing to touch {str(path)!r}: it lies outside the Parquet folder {root}."
        )
    return path


def write_atomically(root: Path, path: Path, data: bytes) -> None:
    """Write under a temporary name, fsync, rename: readers see the old or the new file."""
    inside(root, path)
    temp = inside(root, path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}"))
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def refuse_a_file(root: Path) -> None:
    """A ConfigError when `--parquet` names an existing file: checked before the first
    request (it creates nothing) and again when the sink opens the folder."""
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--parquet {root} is a file, not a directory; give a folder.")


def check_directory(root: Path) -> None:
    """Create `root` if needed and prove it writable, or a ConfigError (exit 2) saying why:
    an existing file, a folder we may not create or write into."""
    refuse_a_file(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"--parquet {root}: a part of this path is a file.") from None
    except OSError as error:
        raise ConfigError(f"--parquet {root} cannot be created: {error.strerror}.") from None
    probe = root / f".tmp-probe-{uuid.uuid4().hex}"
    try:
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise ConfigError(
            f"--parquet {root} is not writable ({error.strerror}); give a folder this user "
            "can write."
        ) from None


def lock_directory(root: Path) -> int:
    """An exclusive, non-blocking `flock` on `<root>/_contractfit.lock`, held until the
    returned descriptor is closed (by `close()` or the process ending): two writers in one
    folder would delete each other's temporary files and store documents twice."""
    path = root / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise ConfigError(f"--parquet {root}: cannot open {path} ({error.strerror}).") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ConfigError(
            f"Another export is writing to {root} (lock held); wait for it or use another folder."
        ) from None
    return fd


@dataclass(frozen=True)
class Intent:
    """A file replacement in progress: `temp` becomes `new`, then `old` files go."""

    temp: Path
    new: Path
    old: list[Path]


def intent_body(root: Path, intent: Intent) -> bytes:
    """Paths relative to `root`: the record stays valid if the folder is moved."""

    def rel(path: Path) -> str:
        return str(inside(root, path).relative_to(root))

    plan = {"temp": rel(intent.temp), "new": rel(intent.new), "old": [rel(p) for p in intent.old]}
    return orjson.dumps(plan)


def read_intent(root: Path) -> Intent | None:
    """The intent file, validated: every path must lie inside `root` (relative, or an
    absolute path written by an older version), or nothing is touched."""
    path = root / INTENT_FILE
    if not path.exists():
        return None
    consequence = (
        "it records a file replacement an interrupted export left unfinished; nothing was "
        "changed. Deleting it keeps the files as they are (a partition may hold some rows "
        "twice until it is next written; --full-refresh rebuilds everything)"
    )

    def bad(what: str) -> ConfigError:
        return ConfigError(f"Parquet intent file {path} is unusable: {what}; {consequence}.")

    plan = _load_object(path, bad)
    temp, new, old = plan.get("temp"), plan.get("new"), plan.get("old")
    if not isinstance(temp, str) or not isinstance(new, str):
        raise bad('"temp" and "new" must be strings')
    if not isinstance(old, list) or not all(isinstance(p, str) for p in old):
        raise bad('"old" must be a list of strings')
    intent = Intent(root / temp, root / new, [root / p for p in old])
    for entry in (intent.temp, intent.new, *intent.old):
        try:
            inside(root, entry)
        except ConfigError:
            raise bad(f"{str(entry)!r} lies outside the folder and is refused") from None
    if not intent.temp.name.startswith(".tmp-") or not all(
        p.suffix == ".parquet" for p in (intent.new, *intent.old)
    ):
        raise bad("it names files that are not the sink's temporary or Parquet files")
    return intent


def read_state(root: Path) -> StoredState:
    """The state file, validated: an object with an integer `sequence` and an object of
    `streams`, as `_write_state` writes it."""
    path = root / STATE_FILE
    if not path.exists():
        return StoredState(0, {})

    def bad(what: str) -> ConfigError:
        return ConfigError(
            f"Parquet state file {path} is unusable: {what}. Run with --full-refresh, or "
            "delete the file (the next export then reads everything again)."
        )

    data = _load_object(path, bad)
    sequence = data.get("sequence", 0)
    streams = data.get("streams", {})
    if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
        raise bad('"sequence" must be a non-negative integer')
    if not isinstance(streams, dict):
        raise bad('"streams" must be an object')
    return StoredState(sequence, streams)


def _load_object(path: Path, bad: Callable[[str], ConfigError]) -> dict[str, Any]:
    """The file as a JSON object, or `bad(what is wrong)` raised."""
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise bad(f"not JSON ({error})") from None
    except OSError as error:
        raise bad(f"cannot be read ({error.strerror})") from None
    if not isinstance(data, dict):
        raise bad(f"a JSON {type(data).__name__}, not an object")
    return data
