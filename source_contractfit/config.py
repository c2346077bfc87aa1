"""The connector configuration: parsed once, validated with messages that name the key.

The same JSON file drives the Airbyte source and the exporter, so all validation lives
here and every problem becomes a `ConfigError` the user can act on.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal
from urllib.parse import urlsplit

from source_contractfit.api.errors import ConfigError
from source_contractfit.timeutil import parse_datetime

DEFAULT_BASE_URL = "https://cfportal.contract-p.fit/api"
AuthType = Literal["api_key", "basic", "token"]
_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")


@dataclass(frozen=True)
class Credentials:
    """One of the three auth schemes of API.md; secrets are excluded from repr."""

    auth_type: AuthType
    api_key: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def secrets(self) -> list[str]:
        return [s for s in (self.api_key, self.password) if s]


@dataclass(frozen=True)
class ConnectorConfig:
    base_url: str
    credentials: Credentials
    start_date: datetime | None = None
    inbox_ids: tuple[str, ...] = ()
    page_size: int = 100
    lookback_days: int = 7
    max_concurrency: int = 4
    checkpoint_interval: int = 1000
    request_timeout_seconds: float = 60.0
    max_retry_seconds: float = 300.0
    max_response_mb: int = 256
    ca_bundle: str | None = None
    allow_insecure_http: bool = False
    fail_on_forbidden_inbox: bool = False

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> ConnectorConfig:
        if not isinstance(raw, Mapping):
            raise ConfigError("The configuration must be a JSON object.")
        base_url = _base_url(raw.get("base_url", DEFAULT_BASE_URL))
        config = cls(
            base_url=base_url,
            credentials=_credentials(raw.get("credentials")),
            start_date=_start_date(raw.get("start_date")),
            inbox_ids=_inbox_ids(raw.get("inbox_ids")),
            page_size=_integer(raw, "page_size", 100, 1, 100),
            lookback_days=_integer(raw, "lookback_days", 7, 0, 365),
            max_concurrency=_integer(raw, "max_concurrency", 4, 1, 32),
            checkpoint_interval=_integer(raw, "checkpoint_interval", 1000, 1, 1_000_000),
            request_timeout_seconds=_number(raw, "request_timeout_seconds", 60.0, 1.0, 3600.0),
            max_retry_seconds=_number(raw, "max_retry_seconds", 300.0, 0.0, 86_400.0),
            max_response_mb=_integer(raw, "max_response_mb", 256, 1, 4096),
            ca_bundle=_ca_bundle(raw.get("ca_bundle")),
            allow_insecure_http=_boolean(raw, "allow_insecure_http", False),
            fail_on_forbidden_inbox=_boolean(raw, "fail_on_forbidden_inbox", False),
        )
        _check_transport_security(config)
        return config


def _base_url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("'base_url' must be a non-empty string such as " + DEFAULT_BASE_URL)
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"'base_url' is not a valid http(s) URL: {value!r}. Expected e.g. {DEFAULT_BASE_URL}"
        )
    if parts.username or parts.password:
        raise ConfigError("'base_url' must not contain credentials; use 'credentials' instead.")
    if parts.query or parts.fragment:
        raise ConfigError(f"'base_url' must not contain a query or fragment: {value!r}")
    return value


def _credentials(value: Any) -> Credentials:
    if not isinstance(value, Mapping):
        raise ConfigError(
            "'credentials' is required: an object with 'auth_type' one of api_key, basic, token."
        )
    auth_type = value.get("auth_type")
    if auth_type == "api_key":
        return Credentials("api_key", api_key=_secret_string(value, "api_key"))
    if auth_type in ("basic", "token"):
        return Credentials(
            auth_type,
            username=_secret_string(value, "username"),
            password=_secret_string(value, "password"),
        )
    raise ConfigError(
        f"'credentials.auth_type' must be one of 'api_key', 'basic', 'token', got {auth_type!r}."
    )


def _secret_string(creds: Mapping[str, Any], key: str) -> str:
    # The value itself is never echoed back: it may be a secret.
    value = creds.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(
            f"'credentials.{key}' is required for auth_type '{creds.get('auth_type')}' "
            "and must be a non-empty string."
        )
    return value


def _start_date(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ConfigError(f"'start_date' must be an ISO 8601 date-time string, got {value!r}.")
    try:
        parsed = parse_datetime(value)
    except ValueError:
        raise ConfigError(
            f"'start_date' is not a valid ISO 8601 date-time: {value!r} "
            "(expected e.g. 2024-01-01T00:00:00Z)."
        ) from None
    if parsed > datetime.now(timezone.utc):
        raise ConfigError(f"'start_date' {value!r} is in the future; nothing could be read.")
    return parsed


def _inbox_ids(value: Any) -> tuple[str, ...]:
    if value in (None, []):
        return ()
    if not isinstance(value, list):
        raise ConfigError("'inbox_ids' must be a list of inbox ids (24 hex characters).")
    ids: list[str] = []
    for item in value:
        if not isinstance(item, str) or not _OBJECT_ID.match(item):
            raise ConfigError(
                f"'inbox_ids' contains {item!r}, which is not an inbox id (24 lowercase hex)."
            )
        if item not in ids:
            ids.append(item)
    return tuple(ids)


def _integer(raw: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = raw.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"'{key}' must be an integer between {low} and {high}, got {value!r}.")
    if not low <= value <= high:
        raise ConfigError(f"'{key}' must be between {low} and {high}, got {value}.")
    return value


def _number(raw: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = raw.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"'{key}' must be a number between {low} and {high}, got {value!r}.")
    if not low <= value <= high:
        raise ConfigError(f"'{key}' must be between {low} and {high}, got {value}.")
    return float(value)


def _boolean(raw: Mapping[str, Any], key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ConfigError(f"'{key}' must be true or false, got {value!r}.")
    return value


def _ca_bundle(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not os.path.isfile(value):
        raise ConfigError(f"'ca_bundle' must be the path of a readable PEM file, got {value!r}.")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_transport_security(config: ConnectorConfig) -> None:
    """Credentials over plain http only to loopback, unless the user explicitly allows it."""
    parts = urlsplit(config.base_url)
    remote = not _is_loopback(parts.hostname or "")
    if parts.scheme == "http" and remote and not config.allow_insecure_http:
        raise ConfigError(
            f"'base_url' uses plain http:// to {parts.hostname}, which would send your "
            "credentials unencrypted. Use https://, or set 'allow_insecure_http': true "
            "if you really mean it."
        )
