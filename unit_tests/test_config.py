"""Config validation: every bad value gets a message naming the key and never the secret.

And one declaration: the spec Airbyte shows, what `from_mapping` enforces and the README's
table are the same settings with the same defaults and bounds.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft7Validator

from source_contractfit.api.errors import ConfigError
from source_contractfit.config import (
    DEFAULT_BASE_URL,
    FILE_MESSAGES,
    SETTINGS,
    ConnectorConfig,
    connection_specification,
    load_config_file,
    read_json_file,
)

KEY = "secret-api-key-123456"
GOOD: dict[str, Any] = {"credentials": {"auth_type": "api_key", "api_key": KEY}}


def test_defaults() -> None:
    config = ConnectorConfig.from_mapping(GOOD)
    assert config.base_url == DEFAULT_BASE_URL
    assert (config.page_size, config.lookback_days, config.max_concurrency) == (100, 7, 4)
    assert config.checkpoint_interval == 1000
    assert config.start_date is None and config.inbox_ids == ()
    assert KEY not in repr(config)


def test_full_config_parses() -> None:
    config = ConnectorConfig.from_mapping(
        {
            "base_url": "http://127.0.0.1:8080/api/",
            "credentials": {"auth_type": "token", "username": "u", "password": "p4ssword"},
            "start_date": "2024-01-01",
            "inbox_ids": ["a" * 24, "a" * 24, "b" * 24],
            "page_size": 50,
        }
    )
    assert config.base_url == "http://127.0.0.1:8080/api"
    assert config.start_date is not None and config.start_date.isoformat().startswith("2024-01-01")
    assert config.inbox_ids == ("a" * 24, "b" * 24)
    assert "p4ssword" not in repr(config)


BAD: list[tuple[dict[str, Any], str]] = [
    ({}, "'credentials' is required"),
    ({"credentials": "x"}, "'credentials' is required"),
    ({"credentials": {"auth_type": "oauth"}}, "'credentials.auth_type' must be one of"),
    ({"credentials": {"auth_type": "api_key"}}, "'credentials.api_key' is required"),
    ({"credentials": {"auth_type": "basic", "username": "u"}}, "'credentials.password'"),
    ({"credentials": {"auth_type": "token", "password": "p"}}, "'credentials.username'"),
    ({**GOOD, "base_url": "cfportal.contract-p.fit/api"}, "not a valid http(s) URL"),
    ({**GOOD, "base_url": 42}, "'base_url' must be a non-empty string"),
    ({**GOOD, "base_url": "https://u:p@x.test/api"}, "must not contain credentials"),
    ({**GOOD, "base_url": "http://example.com/api"}, "allow_insecure_http"),
    ({**GOOD, "start_date": "yesterday"}, "'start_date' is not a valid ISO 8601"),
    ({**GOOD, "start_date": "2999-01-01T00:00:00Z"}, "is in the future"),
    ({**GOOD, "start_date": 20240101}, "'start_date' must be an ISO 8601"),
    ({**GOOD, "inbox_ids": "abc"}, "'inbox_ids' must be a list"),
    ({**GOOD, "inbox_ids": ["not-an-id"]}, "not an inbox id"),
    ({**GOOD, "page_size": 0}, "'page_size' must be between 1 and 100"),
    ({**GOOD, "page_size": 101}, "'page_size' must be between 1 and 100"),
    ({**GOOD, "page_size": "100"}, "'page_size' must be an integer"),
    ({**GOOD, "page_size": True}, "'page_size' must be an integer"),
    ({**GOOD, "lookback_days": -1}, "'lookback_days' must be between"),
    ({**GOOD, "max_concurrency": 0}, "'max_concurrency' must be between"),
    ({**GOOD, "max_retry_seconds": "soon"}, "'max_retry_seconds' must be a number"),
    ({**GOOD, "allow_insecure_http": "yes"}, "'allow_insecure_http' must be true or false"),
    ({**GOOD, "ca_bundle": "/nonexistent/ca.pem"}, "'ca_bundle' must be the path"),
    (
        {**GOOD, "start_date": "0001-01-01T00:00:00+01:00"},
        "'start_date' '0001-01-01T00:00:00+01:00' is before 1970",
    ),
    ({**GOOD, "start_date": "1969-12-31"}, "is before 1970"),
]

WHITESPACE = (
    "has leading or trailing whitespace or a control character (a pasted newline?); remove it."
)
# A credential with a stray character: (credentials, the field named in the message)
DIRTY_CREDENTIALS: list[tuple[dict[str, str], str]] = [
    ({"auth_type": "api_key", "api_key": KEY + "\n"}, "api_key"),
    ({"auth_type": "api_key", "api_key": " " + KEY}, "api_key"),
    ({"auth_type": "api_key", "api_key": KEY + "\r\n"}, "api_key"),
    ({"auth_type": "api_key", "api_key": KEY[:5] + "\x00" + KEY[5:]}, "api_key"),
    ({"auth_type": "api_key", "api_key": KEY + "\u00a0"}, "api_key"),
    ({"auth_type": "basic", "username": "user\t", "password": KEY}, "username"),
    ({"auth_type": "basic", "username": "user", "password": KEY + "\n"}, "password"),
    ({"auth_type": "token", "username": "user", "password": "\x1b" + KEY}, "password"),
    ({"auth_type": "token", "username": "user", "password": KEY + "\x7f"}, "password"),
]


@pytest.mark.parametrize(("credentials", "name"), DIRTY_CREDENTIALS)
def test_a_credential_with_whitespace_or_a_control_character_is_refused_unprinted(
    credentials: dict[str, str], name: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        ConnectorConfig.from_mapping({"credentials": credentials})
    assert caught.value.message == f"'credentials.{name}' {WHITESPACE}"
    assert caught.value.kind.value == "config_error"
    assert KEY not in caught.value.message and KEY[:8] not in caught.value.message
    assert not VALIDATOR.is_valid({"credentials": credentials})


def test_a_credential_may_hold_inner_spaces_and_any_printable_character() -> None:
    for secret in ("pass word", "p@ss:w0rd/é€", "k"):
        creds = {"auth_type": "basic", "username": "a user", "password": secret}
        assert ConnectorConfig.from_mapping({"credentials": creds}).credentials.password == secret
        assert VALIDATOR.is_valid({"credentials": creds})


def test_format_datetime_always_writes_four_digit_years() -> None:
    from datetime import datetime, timezone

    from source_contractfit.timeutil import format_datetime, parse_datetime

    assert format_datetime(datetime(1, 1, 1, tzinfo=timezone.utc)) == "0001-01-01T00:00:00.000000Z"
    assert format_datetime(datetime(999, 12, 31, 23, 59, 59, 5, tzinfo=timezone.utc)) == (
        "0999-12-31T23:59:59.000005Z"
    )
    assert format_datetime(parse_datetime("2024-03-01T10:00:00+01:00")) == (
        "2024-03-01T09:00:00.000000Z"
    )


def test_start_date_at_the_1970_bound() -> None:
    config = ConnectorConfig.from_mapping({**GOOD, "start_date": "1970-01-01"})
    assert config.start_date is not None and config.start_date.year == 1970
    # The written year counts, so the spec's pattern and the parser agree at the bound.
    late = ConnectorConfig.from_mapping({**GOOD, "start_date": "1970-01-01T00:00:00+01:00"})
    assert late.start_date is not None and late.start_date.year == 1969


@pytest.mark.parametrize(("raw", "fragment"), BAD)
def test_bad_config_names_the_key(raw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ConnectorConfig.from_mapping(raw)
    assert fragment in caught.value.message
    assert KEY not in caught.value.message
    assert caught.value.kind.value == "config_error"


def test_config_must_be_an_object() -> None:
    with pytest.raises(ConfigError, match="must be a JSON object"):
        ConnectorConfig.from_mapping(None)


def test_plain_http_allowed_to_loopback_and_when_explicit() -> None:
    ConnectorConfig.from_mapping({**GOOD, "base_url": "http://localhost:9/api"})
    ConnectorConfig.from_mapping({**GOOD, "base_url": "http://[::1]:9/api"})
    ConnectorConfig.from_mapping(
        {**GOOD, "base_url": "http://example.com/api", "allow_insecure_http": True}
    )


# ------------------------------------------------------------------ one declaration

SPEC = connection_specification()
VALIDATOR = Draft7Validator(SPEC)
NUMERIC = [(key, s) for key, s in SETTINGS.items() if s.type in ("integer", "number")]


def accepted(raw: dict[str, Any]) -> bool:
    """Whether `from_mapping` accepts `raw`; any other failure than a ConfigError is a bug."""
    try:
        ConnectorConfig.from_mapping(raw)
    except ConfigError:
        return False
    return True


def test_the_spec_lists_every_declared_setting_in_order() -> None:
    assert list(SPEC["properties"]) == [f.name for f in fields(ConnectorConfig)]
    assert [p["order"] for p in SPEC["properties"].values()] == list(range(len(SETTINGS)))
    assert SPEC["required"] == ["credentials"]
    for key, setting in SETTINGS.items():
        prop = SPEC["properties"][key]
        assert (prop["type"], prop["title"], prop["description"]) == (
            setting.type,
            setting.title,
            setting.description,
        )


@pytest.mark.parametrize(("key", "setting"), NUMERIC, ids=[key for key, _ in NUMERIC])
def test_numeric_bounds_and_default_are_what_from_mapping_enforces(key: str, setting: Any) -> None:
    prop = SPEC["properties"][key]
    low, high = prop["minimum"], prop["maximum"]
    assert (low, high, prop["default"]) == (setting.minimum, setting.maximum, setting.default)
    assert getattr(ConnectorConfig.from_mapping(GOOD), key) == prop["default"]
    assert getattr(ConnectorConfig.from_mapping({**GOOD, key: None}), key) == prop["default"]
    for value, ok in ((low - 1, False), (low, True), (high, True), (high + 1, False)):
        raw = {**GOOD, key: value}
        assert accepted(raw) is ok, (key, value)
        assert VALIDATOR.is_valid(raw) is ok, (key, value)
        if ok:
            assert getattr(ConnectorConfig.from_mapping(raw), key) == value
    for wrong in ("10", True):
        assert not accepted({**GOOD, key: wrong}) and not VALIDATOR.is_valid({**GOOD, key: wrong})
    if setting.type == "integer":
        assert not accepted({**GOOD, key: low + 0.5})
        assert not VALIDATOR.is_valid({**GOOD, key: low + 0.5})


def test_booleans_and_defaults_of_the_other_settings() -> None:
    config = ConnectorConfig.from_mapping(GOOD)
    for key, setting in SETTINGS.items():
        if setting.type == "boolean":
            assert getattr(config, key) is setting.default is SPEC["properties"][key]["default"]
            assert accepted({**GOOD, key: True}) and VALIDATOR.is_valid({**GOOD, key: True})
            assert not accepted({**GOOD, key: "yes"}) and not VALIDATOR.is_valid({**GOOD, key: 1})
    assert config.base_url == SPEC["properties"]["base_url"]["default"]


def test_only_the_required_settings_are_required() -> None:
    assert accepted(GOOD) and VALIDATOR.is_valid(GOOD)
    for key in SPEC["required"]:
        raw = {k: v for k, v in GOOD.items() if k != key}
        assert not accepted(raw) and not VALIDATOR.is_valid(raw), key


# (value, whether both the spec and the parser accept it)
STRING_CASES: dict[str, list[tuple[Any, bool]]] = {
    "base_url": [
        ("https://cfportal.contract-p.fit/api", True),
        ("http://127.0.0.1:8080/api/", True),
        ("https://x.test", True),
        (" https://x.test/api ", True),
        ("cfportal.contract-p.fit/api", False),
        ("ftp://x.test/api", False),
        ("https://u:p@x.test/api", False),
        ("https://x.test/api?tenant=1", False),
        ("https://x.test/api#top", False),
        ("not a url", False),
        ("", False),
        (42, False),
    ],
    "start_date": [
        ("2024-01-01", True),
        ("2024-01-01T00:00:00Z", True),
        ("2024-01-01T08:30:00.123456+02:00", True),
        ("", True),
        ("yesterday", False),
        ("01/02/2024", False),
        (20240101, False),
        ("1970-01-01T00:00:00Z", True),
        ("1969-12-31T23:59:59Z", False),
        ("0001-01-01T00:00:00+01:00", False),
        ("0999-01-01", False),
    ],
    "inbox_ids": [
        ([], True),
        (["a" * 24, "0123456789abcdef01234567"], True),
        (["A" * 24], False),
        (["a" * 23], False),
        ("a" * 24, False),
        ([24], False),
    ],
    "credentials": [
        ({"auth_type": "api_key", "api_key": "k"}, True),
        ({"auth_type": "basic", "username": "u", "password": "p"}, True),
        ({"auth_type": "token", "username": "u", "password": "p"}, True),
        ({"auth_type": "api_key", "api_key": ""}, False),
        ({"auth_type": "api_key", "api_key": "k\n"}, False),
        ({"auth_type": "api_key", "api_key": " k"}, False),
        ({"auth_type": "api_key", "api_key": "k\x00k"}, False),
        ({"auth_type": "basic", "username": "u\n", "password": "p"}, False),
        ({"auth_type": "basic", "username": "a u", "password": "p w"}, True),
        ({"auth_type": "token", "username": "u", "password": "p\t"}, False),
        ({"auth_type": "basic", "username": "u"}, False),
        ({"auth_type": "token", "username": "", "password": "p"}, False),
        ({"auth_type": "oauth", "api_key": "k"}, False),
        ({"api_key": "k"}, False),
        ("k", False),
    ],
}
STRINGS = [(key, value, ok) for key, cases in STRING_CASES.items() for value, ok in cases]


@pytest.mark.parametrize(("key", "value", "ok"), STRINGS)
def test_spec_and_parser_agree_on_the_other_settings(key: str, value: Any, ok: bool) -> None:
    # allow_insecure_http: the loopback rule for plain http is a rule across two settings.
    raw = {**GOOD, "allow_insecure_http": True, key: value}
    assert accepted(raw) is ok
    assert VALIDATOR.is_valid(raw) is ok


def test_the_spec_marks_the_secrets_and_covers_every_auth_scheme() -> None:
    variants = SPEC["properties"]["credentials"]["oneOf"]
    assert [v["properties"]["auth_type"]["const"] for v in variants] == [
        "api_key",
        "basic",
        "token",
    ]
    secret = {
        (v["properties"]["auth_type"]["const"], name)
        for v in variants
        for name, prop in v["properties"].items()
        if prop.get("airbyte_secret")
    }
    assert secret == {("api_key", "api_key"), ("basic", "password"), ("token", "password")}
    assert connection_specification() == SPEC and connection_specification() is not SPEC


# ------------------------------------------------------------------ the README's table


def _literal(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value)


def readme_table() -> str:
    """The settings table of README.md, as the declaration says it must read."""
    rows = ["| setting | type | default | bounds | what it does |", "|---|---|---|---|---|"]
    for key, setting in SETTINGS.items():
        if setting.required:
            default = "required"
        else:
            default = "" if setting.default is None else f"`{_literal(setting.default)}`"
        bounds = ""
        if setting.minimum is not None and setting.maximum is not None:
            bounds = f"{_literal(setting.minimum)} to {_literal(setting.maximum)}"
        rows.append(f"| `{key}` | {setting.type} | {default} | {bounds} | {setting.description} |")
    return "\n".join(rows) + "\n"


def test_the_readme_lists_every_setting_as_declared() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    table = readme_table()
    assert table in readme, "README.md's settings table must read:\n" + table
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    for key in SETTINGS:
        assert f"| `{key}` |" in section, key


# ------------------------------------------------------------------ the config file


def test_load_config_file_reads_and_validates(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**GOOD, "page_size": 7}))
    assert load_config_file(path).page_size == 7
    path.write_text(json.dumps({**GOOD, "page_size": 0}))
    with pytest.raises(ConfigError, match="'page_size' must be between 1 and 100, got 0."):
        load_config_file(path)


def _parser_says(text: str) -> str:
    """orjson's own words for bad JSON, which vary between its versions (3.10.7 has no
    ", expected a string key"); the words around them are ours and compared exactly."""
    with pytest.raises(orjson.JSONDecodeError) as caught:
        orjson.loads(text)
    return str(caught.value)


def test_each_front_end_keeps_its_words_for_a_bad_file(tmp_path: Path) -> None:
    from source_contractfit.export.exporter import CONFIG_FILE_MESSAGES

    missing, garbled, listed = tmp_path / "none.json", tmp_path / "bad.json", tmp_path / "l.json"
    garbled.write_text("{base_url: nope")
    listed.write_text("[]")
    detail = _parser_says(garbled.read_text())
    expected = {
        FILE_MESSAGES: (
            f"The config file {missing} does not exist.",
            f"The config file could not be read: {detail}.",
            "The config file must hold a JSON object.",
        ),
        CONFIG_FILE_MESSAGES: (
            f"Config file {missing} does not exist.",
            f"Config file {garbled} is not readable JSON: {detail}.",
            "The configuration must be a JSON object.",
        ),
    }
    for messages, words in expected.items():
        got = []
        for path in (missing, garbled, listed):
            with pytest.raises(ConfigError) as caught:
                load_config_file(path, messages)
            got.append(caught.value.message)
        assert tuple(got) == words
    with pytest.raises(ConfigError, match=r"^The catalog file could not be read: "):
        read_json_file(garbled, "catalog")
    with pytest.raises(ConfigError, match=r"^The state file .*none.json does not exist\.$"):
        read_json_file(missing, "state")
