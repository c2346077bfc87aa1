"""Bad input, table-driven: each case and the exact message the user sees.

Every case runs the console `read` as Airbyte does (in-process, same code path) against
the live emulator or a stub server, and asserts one ERROR trace with the failure type and
the message, word for word, no traceback in it, and no record or state after the failure
that could be taken for a complete sync. Exporter-only inputs follow at the end.
"""

# ruff: noqa: E501 - a table of exact messages reads best with one message per line
from __future__ import annotations

import io
import json
import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from contractfit_emulator import Emulator
from contractfit_emulator.tenant import (
    ADMIN_API_KEY,
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    VIEWER_API_KEY,
    VIEWER_PASSWORD,
    VIEWER_USERNAME,
)
from source_contractfit.cli.demo import configured_catalog
from source_contractfit.export.exporter import run_export

from .bad_inputs import INBOX, error_of, run_read, stub_server


def _parser_says(text: str) -> str:
    """orjson's own words for bad JSON, which vary between its versions; ours are exact."""
    with pytest.raises(orjson.JSONDecodeError) as caught:
        orjson.loads(text)
    return str(caught.value)


Env = dict[str, Any]


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    with Emulator(seed=31, inboxes=2, documents=60, days=10) as emu, stub_server() as stub:
        yield {"base": emu.base_url, "inboxes": emu.control.inbox_ids(), "emu": emu, "stub": stub}


def key(base: str, **extra: Any) -> dict[str, Any]:
    return {"base_url": base, "credentials": {"auth_type": "api_key", "api_key": ADMIN_API_KEY},
            **extra}  # fmt: skip


def password(base: str, auth_type: str, user: str, secret: str, **extra: Any) -> dict[str, Any]:
    credentials = {"auth_type": auth_type, "username": user, "password": secret}
    return {"base_url": base, "credentials": credentials, **extra}


def stub(env: Env, prefix: str) -> str:
    return f"{env['stub']}/{prefix}/api"


def documents_state(blob: Any) -> list[dict[str, Any]]:
    stream = {"stream_descriptor": {"name": "documents"}, "stream_state": blob}
    return [{"type": "STREAM", "stream": stream}]


CONFIG = "config_error"
TRANSIENT = "transient_error"
SYSTEM = "system_error"

# (id, config builder, catalog builder, state, expected failure type, expected message)
Case = tuple[str, Callable[[Env], Any], Callable[[Env], Any], Any, str, str]
DOCS = lambda env: configured_catalog(["documents"], incremental=True)  # noqa: E731
INBOXES = lambda env: configured_catalog(["inboxes"])  # noqa: E731

CASES: list[Case] = [
    # --- the config file
    (
        "no credentials",
        lambda e: {"base_url": e["base"]},
        INBOXES,
        None,
        CONFIG,
        "'credentials' is required: an object with 'auth_type' one of api_key, basic, token.",
    ),
    (
        "credentials not an object",
        lambda e: {"base_url": e["base"], "credentials": "secret"},
        INBOXES,
        None,
        CONFIG,
        "'credentials' is required: an object with 'auth_type' one of api_key, basic, token.",
    ),
    (
        "unknown auth_type",
        lambda e: {"base_url": e["base"], "credentials": {"auth_type": "oauth"}},
        INBOXES,
        None,
        CONFIG,
        "'credentials.auth_type' must be one of 'api_key', 'basic', 'token', got 'oauth'.",
    ),
    (
        "api_key missing",
        lambda e: {"base_url": e["base"], "credentials": {"auth_type": "api_key"}},
        INBOXES,
        None,
        CONFIG,
        "'credentials.api_key' is required for auth_type 'api_key' and must be a non-empty string.",
    ),
    (
        "api_key not a string",
        lambda e: {"base_url": e["base"], "credentials": {"auth_type": "api_key", "api_key": 42}},
        INBOXES,
        None,
        CONFIG,
        "'credentials.api_key' is required for auth_type 'api_key' and must be a non-empty string.",
    ),
    (
        "api_key pasted with a trailing newline",
        lambda e: {
            "base_url": e["base"],
            "credentials": {"auth_type": "api_key", "api_key": ADMIN_API_KEY + "\n"},
        },
        INBOXES,
        None,
        CONFIG,
        "'credentials.api_key' has leading or trailing whitespace or a control character (a pasted newline?); remove it.",
    ),
    (
        "password with a leading space",
        lambda e: password(e["base"], "basic", ADMIN_USERNAME, " " + ADMIN_PASSWORD),
        INBOXES,
        None,
        CONFIG,
        "'credentials.password' has leading or trailing whitespace or a control character (a pasted newline?); remove it.",
    ),
    (
        "username with a control character",
        lambda e: password(e["base"], "token", ADMIN_USERNAME + "\x1b", ADMIN_PASSWORD),
        INBOXES,
        None,
        CONFIG,
        "'credentials.username' has leading or trailing whitespace or a control character (a pasted newline?); remove it.",
    ),
    (
        "basic without password",
        lambda e: {"base_url": e["base"], "credentials": {"auth_type": "basic", "username": "u"}},
        INBOXES,
        None,
        CONFIG,
        "'credentials.password' is required for auth_type 'basic' and must be a non-empty string.",
    ),
    (
        "base_url not a URL",
        lambda e: key("not a url"),
        INBOXES,
        None,
        CONFIG,
        "'base_url' is not a valid http(s) URL: 'not a url'. Expected e.g. https://cfportal.contract-p.fit/api",
    ),
    (
        "base_url not http(s)",
        lambda e: key("ftp://files.example.com/api"),
        INBOXES,
        None,
        CONFIG,
        "'base_url' is not a valid http(s) URL: 'ftp://files.example.com/api'. Expected e.g. https://cfportal.contract-p.fit/api",
    ),
    (
        "plain http to a remote host",
        lambda e: key("http://api.example.com/api"),
        INBOXES,
        None,
        CONFIG,
        "'base_url' uses plain HTTP to api.example.com, which would send your credentials unencrypted. Use https://, or set 'allow_insecure_http': true if you really mean it.",
    ),
    (
        "page_size 0",
        lambda e: key(e["base"], page_size=0),
        INBOXES,
        None,
        CONFIG,
        "'page_size' must be between 1 and 100, got 0.",
    ),
    (
        "page_size 101",
        lambda e: key(e["base"], page_size=101),
        INBOXES,
        None,
        CONFIG,
        "'page_size' must be between 1 and 100, got 101.",
    ),
    (
        "page_size a string",
        lambda e: key(e["base"], page_size="100"),
        INBOXES,
        None,
        CONFIG,
        "'page_size' must be an integer between 1 and 100, got '100'.",
    ),
    (
        "start_date unparseable",
        lambda e: key(e["base"], start_date="yesterday"),
        INBOXES,
        None,
        CONFIG,
        "'start_date' is not a valid ISO 8601 date-time: 'yesterday' (expected e.g. 2024-01-01T00:00:00Z).",
    ),
    (
        "start_date in year 1",
        lambda e: key(e["base"], start_date="0001-01-01T00:00:00+01:00"),
        DOCS,
        None,
        CONFIG,
        "'start_date' '0001-01-01T00:00:00+01:00' is before 1970; Contract.fit holds nothing that old (expected e.g. 2024-01-01T00:00:00Z, or leave it empty to read all history).",
    ),
    (
        "start_date in the future",
        lambda e: key(e["base"], start_date="2999-01-01T00:00:00Z"),
        INBOXES,
        None,
        CONFIG,
        "'start_date' '2999-01-01T00:00:00Z' is in the future; nothing could be read.",
    ),
    (
        "inbox_ids not a list",
        lambda e: key(e["base"], inbox_ids="abc"),
        INBOXES,
        None,
        CONFIG,
        "'inbox_ids' must be a list of inbox ids (24 hex characters).",
    ),
    (
        "max_concurrency 0",
        lambda e: key(e["base"], max_concurrency=0),
        INBOXES,
        None,
        CONFIG,
        "'max_concurrency' must be between 1 and 32, got 0.",
    ),
    (
        "lookback_days negative",
        lambda e: key(e["base"], lookback_days=-1),
        INBOXES,
        None,
        CONFIG,
        "'lookback_days' must be between 0 and 365, got -1.",
    ),
    (
        "config not JSON",
        lambda e: "{base_url: nope",
        INBOXES,
        None,
        CONFIG,
        f"The config file could not be read: {_parser_says('{base_url: nope')}.",
    ),
    (
        "config a JSON list",
        lambda e: "[]",
        INBOXES,
        None,
        CONFIG,
        "The config file must hold a JSON object.",
    ),
    # --- what the server says about us
    (
        "wrong password (basic)",
        lambda e: password(e["base"], "basic", ADMIN_USERNAME, "not-the-password"),
        INBOXES,
        None,
        CONFIG,
        "Contract.fit rejected the credentials (401: Invalid username or password). Check 'credentials' (username/password or api_key); an API key may have been revoked.",
    ),
    (
        "wrong password (token)",
        lambda e: password(e["base"], "token", ADMIN_USERNAME, "not-the-password"),
        INBOXES,
        None,
        CONFIG,
        "Contract.fit rejected the credentials (401: Wrong credentials). Check 'credentials' (username/password or api_key); an API key may have been revoked.",
    ),
    (
        "wrong API key",
        lambda e: {
            "base_url": e["base"],
            "credentials": {"auth_type": "api_key", "api_key": "cf_wrong_0123456789"},
        },
        INBOXES,
        None,
        CONFIG,
        "Contract.fit rejected the credentials (401: Invalid API key). Check 'credentials' (username/password or api_key); an API key may have been revoked.",
    ),
    (
        "revoked API key",
        lambda e: _revoked(e),
        INBOXES,
        None,
        CONFIG,
        "Contract.fit rejected the credentials (401: API key has been revoked). Check 'credentials' (username/password or api_key); an API key may have been revoked.",
    ),
    (
        "inbox that does not exist",
        lambda e: key(e["base"], inbox_ids=["ffffffffffffffffffffffff"]),
        DOCS,
        None,
        CONFIG,
        "'inbox_ids' names ffffffffffffffffffffffff, which does not exist in this tenant.",
    ),
    (
        "forbidden inbox",
        lambda e: password(
            e["base"],
            "basic",
            VIEWER_USERNAME,
            VIEWER_PASSWORD,
            inbox_ids=[e["inboxes"][1]],
            fail_on_forbidden_inbox=True,
        ),
        DOCS,
        None,
        CONFIG,
        "Inbox {INBOX1} is not visible to these credentials (403); 'fail_on_forbidden_inbox' is set.",
    ),
    (
        "base_url is a web page",
        lambda e: key(stub(e, "html")),
        INBOXES,
        None,
        CONFIG,
        "GET /inboxes returned an HTML page, not JSON: 'base_url' ({STUB}/html/api) does not point at the Contract.fit API (it usually ends in /api).",
    ),
    (
        "base_url answers 404 everywhere",
        lambda e: key(stub(e, "nothing")),
        INBOXES,
        None,
        CONFIG,
        "GET /inboxes answered 404: 'base_url' ({STUB}/nothing/api) does not look like the Contract.fit API root (it usually ends in /api).",
    ),
    (
        "base_url unreachable",
        lambda e: key("http://127.0.0.1:9/api"),
        INBOXES,
        None,
        CONFIG,
        "Could not connect to http://127.0.0.1:9/api (connection refused): check 'base_url' (host and port).",
    ),
    (
        "a page that is not JSON",
        lambda e: key(stub(e, "notjson"), max_retry_seconds=1),
        DOCS,
        None,
        SYSTEM,
        "GET /inboxes/65f1a0aa9a1b2c3d4e5f0001/paginated returned a body that is not valid JSON (Content-Type application/json, 31 bytes).",
    ),
    (
        "a page of the wrong shape",
        lambda e: key(stub(e, "shape")),
        DOCS,
        None,
        SYSTEM,
        "GET /inboxes/65f1a0aa9a1b2c3d4e5f0001/paginated: expected a page object with a 'results' list (API.md, DocumentModelPaginated), got dict.",
    ),
    (
        "inboxes of the wrong shape",
        lambda e: key(stub(e, "inboxshape")),
        INBOXES,
        None,
        SYSTEM,
        "GET /inboxes: expected a JSON array (API.md), got dict.",
    ),
    # --- catalog and state
    (
        "catalog names an unknown stream",
        lambda e: key(e["base"]),
        lambda e: {"streams": [{"stream": {"name": "invoices"}, "sync_mode": "full_refresh"}]},
        None,
        CONFIG,
        "The configured catalog names the stream 'invoices', which this source does not have. Known streams: document_fields, document_line_items, document_version_names, document_versions, documents, formats, inboxes, projects, reports, roles, stats_accuracy, stats_automation_blockers, stats_fields, stats_processing, stats_stp, stats_volume, usage, users. Run discover again and refresh the catalog.",
    ),
    (
        "catalog without streams",
        lambda e: key(e["base"]),
        lambda e: {"stream": []},
        None,
        CONFIG,
        "The configured catalog has no 'streams' list.",
    ),
    (
        "state not a list",
        lambda e: key(e["base"]),
        DOCS,
        {"documents": {}},
        CONFIG,
        "The state file could not be read: expected a JSON list of per-stream state messages as this connector emits them, got dict.",
    ),
    (
        "state of another type",
        lambda e: key(e["base"]),
        DOCS,
        [{"type": "GLOBAL", "global": {}}],
        CONFIG,
        "The input state has a GLOBAL state message; this connector reads per-stream (STREAM) state only.",
    ),
    (
        "state of an unknown version",
        lambda e: key(e["base"]),
        DOCS,
        documents_state({"state_version": 9, "partitions": {}}),
        CONFIG,
        "The state of stream 'documents' has state_version 9; this connector writes and reads version 1. Reset the stream or pass a state this version wrote.",
    ),
    (
        "state without partitions",
        lambda e: key(e["base"]),
        DOCS,
        documents_state({"state_version": 1}),
        CONFIG,
        "The state of stream 'documents' has no 'partitions' object.",
    ),
    (
        "state with a bad cursor",
        lambda e: key(e["base"]),
        DOCS,
        documents_state({"state_version": 1, "partitions": {"x": {"cursor": "soon"}}}),
        CONFIG,
        "The state of stream 'documents', inbox x: 'cursor' is not an ISO 8601 date-time: 'soon'.",
    ),
]


def _revoked(env: Env) -> dict[str, Any]:
    env["emu"].control.revoke_api_key(VIEWER_API_KEY)
    return {
        "base_url": env["base"],
        "credentials": {"auth_type": "api_key", "api_key": VIEWER_API_KEY},
    }


@pytest.mark.parametrize(
    ("build", "catalog", "state", "failure_type", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bad_input_gets_one_clear_message(
    env: Env, tmp_path: Path, build: Callable[[Env], Any], catalog: Callable[[Env], Any],
    state: Any, failure_type: str, message: str,
) -> None:  # fmt: skip
    config = build(env)
    raw = config if isinstance(config, str) else None
    code, messages = run_read(tmp_path, config, catalog(env), state, raw_config=raw)
    message = message.replace("{STUB}", env["stub"]).replace("{INBOX1}", env["inboxes"][1])
    assert code == 1
    error = error_of(messages)
    assert error is not None and error[0] == failure_type
    if message.startswith("re:"):  # a measured duration in the text
        assert re.fullmatch(message[3:], error[1]), error[1]
    else:
        assert error[1] == message
    assert "Traceback" not in error[1]
    errors = [
        i for i, m in enumerate(messages) if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"
    ]
    assert len(errors) == 1 and errors[0] == len(messages) - 1  # nothing after the error
    assert ADMIN_PASSWORD not in json.dumps(messages) and ADMIN_API_KEY not in json.dumps(messages)


def test_a_state_from_the_future_is_read_again_and_says_so(env: Env, tmp_path: Path) -> None:
    # No cursor can lie after the server's present (they are capped), unless an older
    # version followed a future-dated document: documents may have been missed since, so
    # the inbox is read again rather than trusted (the sinks keep each document once).
    future = {"cursor": "2999-01-01T00:00:00.000000Z", "last_id_at_cursor": None}
    partitions = {inbox: future for inbox in env["inboxes"]}
    state = documents_state({"state_version": 1, "partitions": partitions})
    code, messages = run_read(tmp_path, key(env["base"]), DOCS(env), state)
    assert code == 0 and error_of(messages) is None
    ids = {m["record"]["data"]["id"] for m in messages if m["type"] == "RECORD"}
    assert ids == {d["id"] for d in env["emu"].control.documents()}
    logs = [m["log"]["message"] for m in messages if m["type"] == "LOG"]
    repaired = [line for line in logs if "has its cursor at 2999-01-01T00:00:00.000000Z" in line]
    assert len(repaired) == len(env["inboxes"]), logs
    assert all("so this inbox is read again from start_date" in line for line in repaired)
    last = [m["state"]["stream"]["stream_state"] for m in messages if m["type"] == "STATE"][-1]
    assert all(p["cursor"] < "2999" for p in last["partitions"].values())


def export_outcome(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run_export(*args)  # type: ignore[arg-type]
    return code, out.getvalue(), err.getvalue()


def test_exporter_bad_inputs_are_one_line_each(env: Env, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(key(env["base"])))
    db = str(tmp_path / "out.duckdb")
    pasted = tmp_path / "pasted.json"
    pasted.write_text(
        json.dumps(
            {
                "base_url": env["base"],
                "credentials": {"auth_type": "api_key", "api_key": ADMIN_API_KEY + "\n"},
            }
        )
    )
    cases: list[tuple[list[Any], str]] = [
        ([str(pasted), db, None, None, False, True],
         "contractfit export: 'credentials.api_key' has leading or trailing whitespace or a control character (a pasted newline?); remove it."),
        ([str(config), None, None, None, False, True],
         "contractfit export: Give at least one sink: --duckdb FILE and/or --parquet DIR."),
        ([str(config), db, None, ["invoices"], False, True],
         "contractfit export: Unknown stream(s) invoices. Known streams: "),
        ([str(tmp_path / "none.json"), db, None, None, False, True],
         f"contractfit export: Config file {tmp_path / 'none.json'} does not exist."),
        ([str(config), str(tmp_path / "no" / "such" / "dir.duckdb"), None, None, False, True],
         f"contractfit export: --duckdb {tmp_path / 'no' / 'such' / 'dir.duckdb'}: the folder {tmp_path / 'no' / 'such'} does not exist."),
        ([str(config), str(tmp_path), None, None, False, True],
         f"contractfit export: --duckdb {tmp_path} is a directory, not a DuckDB file."),
    ]  # fmt: skip
    for args, expected in cases:
        code, _out, err = export_outcome(args)
        assert code == 2, (args, err)
        assert err.startswith(expected) and err.count("\n") == 1, err
        assert "Traceback" not in err
        assert ADMIN_API_KEY not in err


def test_exporter_refuses_a_file_of_another_schema_version(env: Env, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(key(env["base"])))
    db = tmp_path / "old.duckdb"
    assert export_outcome([str(config), str(db), None, ["inboxes"], False, True])[0] == 0
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE _contractfit_meta SET value = '0' WHERE key = 'schema_version'")
    code, _out, err = export_outcome([str(config), str(db), None, ["inboxes"], False, True])
    assert code == 2
    assert err.strip() == (
        f"contractfit export: {db} holds tables of schema version 0; this exporter writes "
        "version 1. Export to a new file or run with --full-refresh."
    )


def test_a_document_with_unexpected_types_is_rejected_and_reported(
    env: Env, tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(key(f"{env['stub']}/types/api")))
    db = tmp_path / "out.duckdb"
    code, out, err = export_outcome([str(config), str(db), None, ["documents"], False, False])
    assert code == 0, err
    assert "1 record(s) could not be normalized: see the rejects table." in out
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM documents").fetchall() == [(0,)]
        ((reason,),) = con.execute("SELECT reason FROM rejects").fetchall()
    assert reason == "versions[0].annotations.iban: expected an array or null, got number"


def self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key_file = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key_file), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key_file


def test_tls_is_verified_by_default_and_ca_bundle_trusts_a_private_ca(tmp_path: Path) -> None:
    cert, key_file = self_signed(tmp_path)
    with stub_server(tls=(cert, key_file)) as server:
        base = f"{server}/tls/api"
        code, messages = run_read(tmp_path, key(base), INBOXES(None))
        assert code == 1
        error = error_of(messages)
        assert error is not None and error[0] == CONFIG
        assert error[1].startswith(f"TLS verification failed for {base}: [SSL: CERTIFICATE_VERIFY")
        assert error[1].endswith("Set 'ca_bundle' to your CA's PEM file.")
        code, messages = run_read(tmp_path, key(base, ca_bundle=str(cert)), INBOXES(None))
        assert code == 0, error_of(messages)
        assert [m["record"]["data"]["id"] for m in messages if m["type"] == "RECORD"] == [INBOX]


@pytest.mark.parametrize("auth_type", ["basic", "token"])
def test_a_run_refused_at_login_creates_no_output(env: Env, tmp_path: Path, auth_type: str) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(password(env["base"], auth_type, ADMIN_USERNAME, "not-the-password"))
    )
    db, parquet = tmp_path / "new.duckdb", tmp_path / "parquet"
    code, _out, err = export_outcome([str(config), str(db), str(parquet), None, False, True])
    assert code == 2 and "rejected the credentials" in err and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]
