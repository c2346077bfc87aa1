"""Headless Chromium for the report test: Debian's `chromium`, installed here if missing.

The test set-up installs the package itself (as root, with apt-get) so a fresh CI machine
needs nothing beyond the README's test command; Playwright drives that binary and never
downloads a browser of its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

# The flags a root, offline, GPU-less machine needs (see the machine notes in the README).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_executable() -> str:
    """Path of Debian's chromium, installing the package first when it is absent."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.fail(
            "The report test needs Debian's chromium: run `apt-get install -y chromium` "
            "as root (the test set-up does this itself when it runs as root)."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    found = shutil.which("chromium")
    if not found:
        pytest.fail("apt-get installed chromium, but no `chromium` is on PATH")
    return found
