"""Fixtures: real emulators on 127.0.0.1 (port 0) and HTTP clients for them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from contractfit_emulator import ADMIN_API_KEY, VIEWER_API_KEY, Emulator

NOW = "2026-01-01T00:00:00Z"


@pytest.fixture(scope="session")
def shared_emulator() -> Iterator[Emulator]:
    """Read-only emulator shared by tests that never mutate it."""
    with Emulator(seed=7, inboxes=3, documents=1200, now=NOW) as emulator:
        yield emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulator per test, for tests that mutate data, faults or the clock."""
    with Emulator(seed=11, inboxes=2, documents=400, now=NOW, jwt_lifetime=60) as emulator:
        yield emulator


def make_client(emulator: Emulator, api_key: str = ADMIN_API_KEY) -> httpx.Client:
    return httpx.Client(base_url=emulator.base_url, headers={"X-API-Key": api_key}, timeout=30)


@pytest.fixture
def admin(shared_emulator: Emulator) -> Iterator[httpx.Client]:
    with make_client(shared_emulator) as client:
        yield client


@pytest.fixture
def viewer(shared_emulator: Emulator) -> Iterator[httpx.Client]:
    with make_client(shared_emulator, VIEWER_API_KEY) as client:
        yield client


@pytest.fixture
def client(emulator: Emulator) -> Iterator[httpx.Client]:
    with make_client(emulator) as client:
        yield client
