"""Contract.fit API emulator: a seeded, deterministic fake tenant served over HTTP.

`Emulator` runs in-process (background thread); `EmulatorProcess` runs it as a
subprocess; `EmulatorControl` drives the `/_control` test endpoints. Default
credentials live in `tenant` and are re-exported here.
"""

from .app import Emulator
from .control import ControlError, EmulatorControl
from .process import EmulatorProcess
from .tenant import (
    ADMIN_API_KEY,
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    VIEWER_API_KEY,
    VIEWER_PASSWORD,
    VIEWER_USERNAME,
)

__all__ = [
    "ADMIN_API_KEY",
    "ADMIN_PASSWORD",
    "ADMIN_USERNAME",
    "VIEWER_API_KEY",
    "VIEWER_PASSWORD",
    "VIEWER_USERNAME",
    "ControlError",
    "Emulator",
    "EmulatorControl",
    "EmulatorProcess",
]
