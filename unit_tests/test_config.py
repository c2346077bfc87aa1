"""Config validation: every bad value gets a message naming the key and never the secret."""

from __future__ import annotations

from typing import Any

import pytest

from source_contractfit.api.errors import ConfigError
from source_contractfit.config import DEFAULT_BASE_URL, ConnectorConfig

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
]


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
