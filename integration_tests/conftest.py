"""A live emulator for the whole integration session, and the standard suite's configs.

The emulator serves in a background thread of the test process on 127.0.0.1 (port 0);
the connector under test runs as a subprocess (or in-process for the CDK's standard
suite) and talks real HTTP to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from contractfit_emulator import Emulator
from contractfit_emulator.tenant import (
    ADMIN_API_KEY,
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
)
from integration_tests import installs

HERE = Path(__file__).parent
GENERATED = HERE / "generated"


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start building the venvs the selected test_installs.py tests use, so that pip runs
    beside the other tests (not for --collect-only)."""
    if session.config.option.collectonly:
        return
    wanted = {
        name
        for item in session.items
        if item.nodeid.startswith("integration_tests/test_installs.py")
        for name in installs.INSTALLS
        if name in getattr(item, "fixturenames", ())
    }
    if wanted:
        installs.start(tuple(sorted(wanted)))


def pytest_sessionfinish(session: pytest.Session) -> None:
    installs.cleanup()


INBOXES = 3
DOCUMENTS_PER_INBOX = 5000


def api_key_config(base_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "base_url": base_url,
        "credentials": {"auth_type": "api_key", "api_key": ADMIN_API_KEY},
        **extra,
    }


def password_config(base_url: str, auth_type: str, **extra: Any) -> dict[str, Any]:
    credentials = {"auth_type": auth_type, "username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
    return {"base_url": base_url, "credentials": credentials, **extra}


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """3 inboxes x 5,000 documents, seeded; shared and never mutated by tests."""
    with Emulator(seed=42, inboxes=INBOXES, documents=INBOXES * DOCUMENTS_PER_INBOX) as emu:
        yield emu


@pytest.fixture(scope="session")
def suite_emulator() -> Iterator[Emulator]:
    """A small tenant for the CDK's standard suite, which validates every record's schema."""
    with Emulator(seed=11, inboxes=2, documents=400) as emu:
        yield emu


@pytest.fixture(scope="session", autouse=True)
def standard_suite_configs(suite_emulator: Emulator) -> Iterator[None]:
    """The configs acceptance-test-config.yml names, written into generated/ from the
    committed fixtures beside it (sample_config.json, invalid_config.json) with the live
    emulator's base URL and credentials put in."""
    emulator = suite_emulator
    GENERATED.mkdir(exist_ok=True)
    # The stats streams read one request per inbox per day: 20 days keep the suite quick.
    recent = (datetime.now(timezone.utc) - timedelta(days=20)).strftime("%Y-%m-%dT00:00:00Z")
    sample = json.loads((HERE / "sample_config.json").read_text())
    invalid = json.loads((HERE / "invalid_config.json").read_text())
    files = {
        "config.json": {
            **sample,
            **api_key_config(emulator.base_url),
            "start_date": recent,
        },
        "config_token.json": password_config(emulator.base_url, "token", start_date=recent),
        "invalid_config.json": {**invalid, "base_url": emulator.base_url},
    }
    for name, content in files.items():
        (GENERATED / name).write_text(json.dumps(content, indent=2))
    yield


@pytest.fixture
def mutable_emulator() -> Iterator[Emulator]:
    """A small emulator of a test's own, for tests that change data or inject faults."""
    with Emulator(seed=7, inboxes=2, documents=600) as emu:
        yield emu
