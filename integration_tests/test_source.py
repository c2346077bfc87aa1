"""spec, check, discover and read of `source-contractfit` against the live emulator."""

from __future__ import annotations

import socket
from collections import Counter
from pathlib import Path

import pytest

from contractfit_emulator import Emulator
from contractfit_emulator.tenant import (
    ADMIN_API_KEY,
    ADMIN_PASSWORD,
    VIEWER_API_KEY,
)

from .conftest import DOCUMENTS_PER_INBOX, INBOXES, api_key_config, password_config
from .helpers import catalog, run_source

SPEC_PROPERTIES = {
    "base_url",
    "credentials",
    "start_date",
    "inbox_ids",
    "page_size",
    "lookback_days",
    "max_concurrency",
    "parallel_windows",
}


def config_for(base_url: str, auth_type: str) -> dict[str, object]:
    if auth_type == "api_key":
        return api_key_config(base_url)
    return password_config(base_url, auth_type)


def truth_ids(emulator: Emulator) -> dict[str, set[str]]:
    truth = emulator.control.truth()
    return {inbox: set(data["document_ids"]) for inbox, data in truth["inboxes"].items()}


def test_spec_names_the_agreed_properties(tmp_path: Path) -> None:
    run = run_source("spec", tmp_path)
    assert run.returncode == 0, run.stderr
    (spec,) = [m["spec"] for m in run.of_type("SPEC")]
    properties = spec["connectionSpecification"]["properties"]
    assert set(properties) >= SPEC_PROPERTIES
    variants = properties["credentials"]["oneOf"]
    consts = [v["properties"]["auth_type"]["const"] for v in variants]
    assert consts == ["api_key", "basic", "token"]
    assert properties["page_size"]["default"] == 100
    assert properties["page_size"]["minimum"] == 1 and properties["page_size"]["maximum"] == 100
    assert properties["lookback_days"]["default"] == 7
    assert properties["max_concurrency"]["default"] == 4
    assert properties["base_url"]["default"] == "https://cfportal.contract-p.fit/api"
    secrets = {
        name
        for variant in variants
        for name, prop in variant["properties"].items()
        if prop.get("airbyte_secret")
    }
    assert secrets == {"api_key", "password"}


def test_spec_and_check_answer_first_without_the_cdks_memory_monitor_line(
    emulator: Emulator, tmp_path: Path
) -> None:
    spec = run_source("spec", tmp_path)
    assert spec.messages[0]["type"] == "SPEC", spec.stdout[:300]
    check = run_source("check", tmp_path, api_key_config(emulator.base_url))
    assert check.of_type("CONNECTION_STATUS"), check.stdout[:300]
    assert "Connected as" in check.messages[0]["log"]["message"]  # our line comes first
    for run in (spec, check):
        assert "MemoryMonitor" not in run.stdout + run.stderr


@pytest.mark.parametrize("auth_type", ["api_key", "basic", "token"])
def test_check_succeeds_with_each_auth_mode(
    emulator: Emulator, tmp_path: Path, auth_type: str
) -> None:
    config = config_for(emulator.base_url, auth_type)
    run = run_source("check", tmp_path, config)
    assert run.returncode == 0, run.stderr
    (status,) = [m["connectionStatus"] for m in run.of_type("CONNECTION_STATUS")]
    assert status["status"] == "SUCCEEDED", status


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def check_failure_cases(emulator: Emulator) -> list[tuple[str, dict[str, object], str]]:
    base = emulator.base_url
    root = base.rsplit("/api", 1)[0]
    return [
        (
            "wrong password",
            password_config(base, "basic")
            | {
                "credentials": {
                    "auth_type": "basic",
                    "username": "demo@contract.fit",
                    "password": "nope-123456",
                }
            },
            "rejected the credentials",
        ),
        (
            "wrong password for a token",
            {
                "base_url": base,
                "credentials": {
                    "auth_type": "token",
                    "username": "demo@contract.fit",
                    "password": "nope-123456",
                },
            },
            "rejected the credentials",
        ),
        (
            "unknown api key",
            {
                "base_url": base,
                "credentials": {"auth_type": "api_key", "api_key": "cf_unknown_0123456789"},
            },
            "rejected the credentials",
        ),
        (
            "nothing listening",
            api_key_config(f"http://127.0.0.1:{free_port()}/api", max_retry_seconds=1),
            "Could not connect to http://127.0.0.1:",
        ),
        ("base url without /api", api_key_config(root + "/v2"), "does not look like"),
        ("inbox that does not exist", api_key_config(base, inbox_ids=["0" * 24]), "does not exist"),
        (
            "auth type unknown",
            {"base_url": base, "credentials": {"auth_type": "oauth"}},
            "auth_type",
        ),
        (
            "plain http to a remote host",
            api_key_config("http://example.com/api"),
            "allow_insecure_http",
        ),
    ]


def test_check_reports_each_failure_clearly(emulator: Emulator, tmp_path: Path) -> None:
    # In-process for speed (each case is one check); the protocol path of a failing check
    # is covered by the CDK suite's invalid_config scenario and the subprocess case below.
    import logging

    from source_contractfit.airbyte.source import SourceContractfit

    logger = logging.getLogger("test")
    for label, config, fragment in check_failure_cases(emulator):
        status = SourceContractfit().check(logger, config)
        assert status.status.value == "FAILED", label
        assert status.message is not None and fragment in status.message, (label, status.message)
        for secret in (ADMIN_API_KEY, ADMIN_PASSWORD, "nope-123456", "cf_unknown_0123456789"):
            assert secret not in status.message, label
    label, config, fragment = check_failure_cases(emulator)[0]
    run = run_source("check", tmp_path, config)
    statuses = [m["connectionStatus"] for m in run.of_type("CONNECTION_STATUS")]
    assert len(statuses) == 1 and statuses[0]["status"] == "FAILED"
    assert fragment in statuses[0]["message"]
    assert "Traceback" not in run.stdout + run.stderr
    assert "nope-123456" not in run.stdout + run.stderr


def test_discover_lists_streams_with_keys(emulator: Emulator, tmp_path: Path) -> None:
    run = run_source("discover", tmp_path, api_key_config(emulator.base_url))
    assert run.returncode == 0, run.stderr
    (catalog_message,) = run.of_type("CATALOG")
    streams = {s["name"]: s for s in catalog_message["catalog"]["streams"]}
    assert {"projects", "inboxes", "documents", "document_versions"} <= set(streams)
    for name in ("projects", "inboxes", "documents"):
        assert streams[name]["source_defined_primary_key"] == [["id"]]
    assert streams["document_versions"]["source_defined_primary_key"] == [
        ["document_id"],
        ["version_index"],
    ]
    assert streams["documents"]["default_cursor_field"] == ["timings", "receive_time"]
    assert streams["documents"]["supported_sync_modes"] == ["full_refresh", "incremental"]
    for stream in streams.values():
        assert "full_refresh" in stream["supported_sync_modes"]
        assert stream["json_schema"]["type"] == "object"


@pytest.mark.parametrize("auth_type", ["api_key", "basic", "token"])
def test_read_documents_emits_every_document_exactly_once(
    emulator: Emulator, tmp_path: Path, auth_type: str
) -> None:
    config = config_for(emulator.base_url, auth_type)
    expected = truth_ids(emulator)
    assert len(expected) == INBOXES
    if auth_type != "api_key":  # the other schemes read one inbox: the same code, less time
        first = sorted(expected)[0]
        config["inbox_ids"] = [first]
        expected = {first: expected[first]}
    run = run_source("read", tmp_path, config, catalog("documents"))
    assert run.returncode == 0, run.stderr[-3000:]
    assert not run.errors()
    documents = run.records("documents")
    ids = [d["id"] for d in documents]
    counts = Counter(ids)
    assert max(counts.values()) == 1, "a document was emitted twice"
    assert set(ids) == set().union(*expected.values())
    assert len(ids) == len(expected) * DOCUMENTS_PER_INBOX
    by_inbox = Counter(d["inbox"] for d in documents)
    assert {inbox: by_inbox[inbox] for inbox in expected} == {
        inbox: len(doc_ids) for inbox, doc_ids in expected.items()
    }


def test_read_projects_and_inboxes(emulator: Emulator, tmp_path: Path) -> None:
    run = run_source(
        "read", tmp_path, api_key_config(emulator.base_url), catalog("projects", "inboxes")
    )
    assert run.returncode == 0, run.stderr
    inboxes = run.records("inboxes")
    assert {i["id"] for i in inboxes} == set(truth_ids(emulator))
    projects = run.records("projects")
    assert projects and all(isinstance(p["id"], str) for p in projects)
    assert {i["project"] for i in inboxes} <= {p["id"] for p in projects}
    statuses = [
        m["trace"]["stream_status"]["status"]
        for m in run.of_type("TRACE")
        if m["trace"]["type"] == "STREAM_STATUS"
    ]
    assert statuses.count("COMPLETE") == 2


def test_read_filters_inbox_ids_and_start_date(emulator: Emulator, tmp_path: Path) -> None:
    expected = truth_ids(emulator)
    first = sorted(expected)[0]
    config = api_key_config(emulator.base_url, inbox_ids=[first], start_date="2000-01-01T00:00:00Z")
    run = run_source("read", tmp_path, config, catalog("documents", "inboxes"))
    assert run.returncode == 0, run.stderr
    assert {d["id"] for d in run.records("documents")} == expected[first]
    assert [i["id"] for i in run.records("inboxes")] == [first]


def test_forbidden_inbox_is_skipped_with_a_warning(emulator: Emulator, tmp_path: Path) -> None:
    inbox_ids = sorted(truth_ids(emulator))
    config = {
        "base_url": emulator.base_url,
        "credentials": {"auth_type": "api_key", "api_key": VIEWER_API_KEY},
        "inbox_ids": inbox_ids,
    }
    run = run_source("read", tmp_path, config, catalog("documents"))
    assert run.returncode == 0, run.stderr
    visible = {d["inbox"] for d in run.records("documents")}
    assert len(visible) == 1
    warnings = [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN"]
    skipped = [i for i in inbox_ids if i not in visible]
    for inbox in skipped:
        assert any(inbox in w and "Skipping" in w for w in warnings), warnings

    strict = run_source(
        "read", tmp_path, config | {"fail_on_forbidden_inbox": True}, catalog("documents")
    )
    assert strict.returncode != 0
    (error,) = strict.errors()
    assert error["failure_type"] == "config_error"
    assert "fail_on_forbidden_inbox" in error["message"]


def test_unknown_stream_in_catalog_is_a_config_error(emulator: Emulator, tmp_path: Path) -> None:
    bad = catalog("inboxes")
    bad["streams"][0]["stream"]["name"] = "invoices"
    run = run_source("read", tmp_path, api_key_config(emulator.base_url), bad)
    assert run.returncode != 0
    (error,) = run.errors()
    assert error["failure_type"] == "config_error"
    assert "'invoices'" in error["message"] and "Known streams" in error["message"]
