"""The connector configuration: every setting declared once, parsed with messages that name it.

Each field of `ConnectorConfig` is declared with its `Setting` (type, default, bounds, title,
description). That one declaration drives `ConnectorConfig.from_mapping` (the validation
every front end runs), `connection_specification()` (the JSON schema Airbyte shows) and the
README's settings table (a unit test holds it to the declaration), so what the spec promises
is what `check` enforces. The same JSON file serves the Airbyte source and the exporter;
`load_config_file` reads it for both, and every problem becomes a `ConfigError` the user can
act on.
"""

from __future__ import annotations

import copy
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import urlsplit

import orjson

from source_contractfit.api.errors import ConfigError
from source_contractfit.timeutil import parse_datetime

DEFAULT_BASE_URL = "https://cfportal.contract-p.fit/api"
AuthType = Literal["api_key", "basic", "token"]
JsonType = Literal["string", "integer", "number", "boolean", "array", "object"]
# What `_base_url` accepts, as a JSON-schema pattern: http(s), a host without user info, a
# path, no query or fragment. (Plain http to a remote host needs `allow_insecure_http`.)
BASE_URL_PATTERN = r"^\s*https?://[^\s/?#@]+(/[^?#]*)?$"
# The oldest year `start_date` may name: Contract.fit holds nothing older, and the written
# year is checked (not the UTC one), so the spec's pattern says exactly what the parser does.
MIN_START_YEAR = 1970
START_YEAR_PATTERN = r"(19[7-9][0-9]|[2-9][0-9]{3})"
# An empty value, a date or a date-time, as `parse_datetime` reads them.
START_DATE_PATTERN = (
    rf"^({START_YEAR_PATTERN}-[0-9]{{2}}-[0-9]{{2}}"
    r"(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})?)?)?$"
)
# A credential: no control character anywhere, no whitespace at either end (a pasted
# newline would otherwise reach the HTTP header, and the error would print the key).
# `(?![\s\S])` is the end of the text in both Python and ECMA-262 (`$` would also match
# before a final newline); `from_mapping` uses this very pattern, so spec and parser agree.
_CONTROL = r"\x00-\x1f\x7f-\x9f"
CREDENTIAL_PATTERN = rf"^[^\s{_CONTROL}]([^{_CONTROL}]*[^\s{_CONTROL}])?(?![\s\S])"
_CREDENTIAL = re.compile(CREDENTIAL_PATTERN)
OBJECT_ID_PATTERN = r"^[0-9a-f]{24}$"
_OBJECT_ID = re.compile(OBJECT_ID_PATTERN)
NOT_AN_OBJECT = "The configuration must be a JSON object."


# ------------------------------------------------------------------ credentials


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
class CredentialField:
    """A non-empty string of an auth scheme; a secret one is masked by Airbyte."""

    name: Literal["api_key", "username", "password"]
    title: str
    description: str
    secret: bool = False


@dataclass(frozen=True)
class AuthScheme:
    """One `oneOf` variant of `credentials`: its `auth_type` and the fields it requires."""

    auth_type: AuthType
    title: str
    fields: tuple[CredentialField, ...]

    def json_schema(self) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "auth_type": {"type": "string", "const": self.auth_type, "order": 0}
        }
        for order, spec in enumerate(self.fields, start=1):
            schema: dict[str, Any] = {
                "title": spec.title,
                "description": spec.description,
                "type": "string",
                "minLength": 1,
                "pattern": CREDENTIAL_PATTERN,
            }
            if spec.secret:
                schema["airbyte_secret"] = True
            properties[spec.name] = {**schema, "order": order}
        return {
            "title": self.title,
            "type": "object",
            "required": ["auth_type", *(spec.name for spec in self.fields)],
            "properties": properties,
        }


_USERNAME = CredentialField("username", "Username", "The Contract.fit user name.")
AUTH_SCHEMES: tuple[AuthScheme, ...] = (
    AuthScheme(
        "api_key",
        "API key",
        (
            CredentialField(
                "api_key",
                "API key",
                "Sent in the X-API-Key header (never in the URL).",
                secret=True,
            ),
        ),
    ),
    AuthScheme(
        "basic",
        "Username and password (HTTP Basic)",
        (_USERNAME, CredentialField("password", "Password", "The user's password.", secret=True)),
    ),
    AuthScheme(
        "token",
        "Username and password (JWT token)",
        (
            _USERNAME,
            CredentialField(
                "password",
                "Password",
                "The user's password; exchanged for a JWT at POST /auth, renewed on expiry.",
                secret=True,
            ),
        ),
    ),
)


# ------------------------------------------------------------------ the declaration


# A parser gets the setting's key, its declaration and the raw value (the declared default
# when the key is absent) and returns the parsed value or raises a `ConfigError`.
Parser = Callable[[str, "Setting", Any], Any]


@dataclass(frozen=True)
class Setting:
    """The one declaration of a setting: its spec property, its parser, its README row."""

    type: JsonType
    title: str
    description: str
    parse: Parser
    default: Any = None  # the JSON value used when the key is absent; None: no default
    minimum: int | float | None = None
    maximum: int | float | None = None
    required: bool = False
    examples: tuple[Any, ...] = ()
    schema: Mapping[str, Any] = field(default_factory=dict)  # more keywords: pattern, oneOf...

    def json_schema(self, order: int) -> dict[str, Any]:
        """This setting's property of the connection specification."""
        schema: dict[str, Any] = {
            "title": self.title,
            "description": self.description,
            "type": self.type,
        }
        for keyword, value in (
            ("minimum", self.minimum),
            ("maximum", self.maximum),
            ("default", self.default),
        ):
            if value is not None:
                schema[keyword] = value
        if self.examples:
            schema["examples"] = list(self.examples)
        schema.update(copy.deepcopy(dict(self.schema)))
        schema["order"] = order
        return schema


def _declare(setting: Setting) -> Any:
    """A dataclass field carrying its declaration (no dataclass default: the parser decides)."""
    return field(metadata={"setting": setting})


def _setting(
    kind: JsonType,
    title: str,
    description: str,
    parse: Parser,
    *,
    default: Any = None,
    required: bool = False,
    examples: tuple[Any, ...] = (),
    schema: Mapping[str, Any] | None = None,
) -> Any:
    return _declare(
        Setting(
            kind,
            title,
            description,
            parse,
            default=default,
            required=required,
            examples=examples,
            schema=schema or {},
        )
    )


def _integer_setting(
    title: str, description: str, *, default: int, minimum: int, maximum: int
) -> Any:
    return _declare(Setting("integer", title, description, _integer, default, minimum, maximum))


def _number_setting(
    title: str, description: str, *, default: float, minimum: float, maximum: float
) -> Any:
    return _declare(Setting("number", title, description, _number, default, minimum, maximum))


def _boolean_setting(title: str, description: str, *, default: bool) -> Any:
    return _declare(Setting("boolean", title, description, _boolean, default))


# ------------------------------------------------------------------ parsers


def _base_url(key: str, setting: Setting, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"'{key}' must be a non-empty string such as {DEFAULT_BASE_URL}")
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"'{key}' is not a valid http(s) URL: {url!r}. Expected e.g. {DEFAULT_BASE_URL}"
        )
    if parts.username or parts.password:
        raise ConfigError(f"'{key}' must not contain credentials; use 'credentials' instead.")
    if parts.query or parts.fragment:
        raise ConfigError(f"'{key}' must not contain a query or fragment: {url!r}")
    return url


def _credentials(key: str, setting: Setting, value: Any) -> Credentials:
    if not isinstance(value, Mapping):
        names = ", ".join(scheme.auth_type for scheme in AUTH_SCHEMES)
        raise ConfigError(f"'{key}' is required: an object with 'auth_type' one of {names}.")
    auth_type = value.get("auth_type")
    scheme = next((s for s in AUTH_SCHEMES if s.auth_type == auth_type), None)
    if scheme is None:
        quoted = ", ".join(repr(s.auth_type) for s in AUTH_SCHEMES)
        raise ConfigError(f"'{key}.auth_type' must be one of {quoted}, got {auth_type!r}.")
    given = {spec.name: _secret_string(value, spec.name) for spec in scheme.fields}
    return Credentials(
        scheme.auth_type,
        api_key=given.get("api_key"),
        username=given.get("username"),
        password=given.get("password"),
    )


def _secret_string(creds: Mapping[str, Any], key: str) -> str:
    # The value itself is never echoed back: it may be a secret.
    value = creds.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(
            f"'credentials.{key}' is required for auth_type '{creds.get('auth_type')}' "
            "and must be a non-empty string."
        )
    if not _CREDENTIAL.match(value):
        raise ConfigError(
            f"'credentials.{key}' has leading or trailing whitespace or a control character "
            "(a pasted newline?); remove it."
        )
    return value


def _start_date(key: str, setting: Setting, value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ConfigError(f"'{key}' must be an ISO 8601 date-time string, got {value!r}.")
    written = re.match(r"\s*([0-9]{4})-", value)
    if written and int(written.group(1)) < MIN_START_YEAR:
        raise ConfigError(
            f"'{key}' {value!r} is before {MIN_START_YEAR}; Contract.fit holds nothing that old "
            "(expected e.g. 2024-01-01T00:00:00Z, or leave it empty to read all history)."
        )
    try:
        parsed = parse_datetime(value)
    except (ValueError, OverflowError):
        raise ConfigError(
            f"'{key}' is not a valid ISO 8601 date-time: {value!r} "
            "(expected e.g. 2024-01-01T00:00:00Z)."
        ) from None
    if parsed > datetime.now(timezone.utc):
        raise ConfigError(f"'{key}' {value!r} is in the future; nothing could be read.")
    return parsed


def _inbox_ids(key: str, setting: Setting, value: Any) -> tuple[str, ...]:
    if value in (None, []):
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"'{key}' must be a list of inbox ids (24 hex characters).")
    ids: list[str] = []
    for item in value:
        if not isinstance(item, str) or not _OBJECT_ID.match(item):
            raise ConfigError(
                f"'{key}' contains {item!r}, which is not an inbox id (24 lowercase hex)."
            )
        if item not in ids:
            ids.append(item)
    return tuple(ids)


def _bounds(key: str, setting: Setting) -> tuple[float, float]:
    if setting.minimum is None or setting.maximum is None:
        raise TypeError(f"The numeric setting {key!r} must declare a minimum and a maximum.")
    return setting.minimum, setting.maximum


def _integer(key: str, setting: Setting, value: Any) -> int:
    low, high = _bounds(key, setting)
    if value is None:
        return int(setting.default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"'{key}' must be an integer between {low} and {high}, got {value!r}.")
    if not low <= value <= high:
        raise ConfigError(f"'{key}' must be between {low} and {high}, got {value}.")
    return value


def _number(key: str, setting: Setting, value: Any) -> float:
    low, high = _bounds(key, setting)
    if value is None:
        return float(setting.default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"'{key}' must be a number between {low} and {high}, got {value!r}.")
    if not low <= value <= high:
        raise ConfigError(f"'{key}' must be between {low} and {high}, got {value}.")
    return float(value)


def _boolean(key: str, setting: Setting, value: Any) -> bool:
    if value is None:
        return bool(setting.default)
    if not isinstance(value, bool):
        raise ConfigError(f"'{key}' must be true or false, got {value!r}.")
    return value


def _ca_bundle(key: str, setting: Setting, value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not os.path.isfile(value):
        raise ConfigError(f"'{key}' must be the path of a readable PEM file, got {value!r}.")
    return value


# ------------------------------------------------------------------ the configuration


@dataclass(frozen=True, kw_only=True)
class ConnectorConfig:
    """The parsed configuration; the fields in the order Airbyte shows them."""

    base_url: str = _setting(
        "string",
        "Base URL",
        "The Contract.fit API root, ending in /api. Change it for tenants on another host.",
        _base_url,
        default=DEFAULT_BASE_URL,
        examples=(DEFAULT_BASE_URL,),
        schema={"pattern": BASE_URL_PATTERN, "pattern_descriptor": "https://host/api"},
    )
    credentials: Credentials = _setting(
        "object",
        "Authentication",
        "How to authenticate: an API key, HTTP Basic, or a JWT obtained from POST /auth.",
        _credentials,
        required=True,
        schema={"oneOf": [scheme.json_schema() for scheme in AUTH_SCHEMES]},
    )
    start_date: datetime | None = _setting(
        "string",
        "Start date",
        "Read documents received at or after this UTC date-time. Empty means all history.",
        _start_date,
        examples=("2024-01-01T00:00:00Z",),
        schema={"format": "date-time", "pattern": START_DATE_PATTERN},
    )
    inbox_ids: tuple[str, ...] = _setting(
        "array",
        "Inbox ids",
        "Read only these inboxes (24-character ids). Empty means every inbox the credentials "
        "may see.",
        _inbox_ids,
        schema={"items": {"type": "string", "pattern": OBJECT_ID_PATTERN}},
    )
    page_size: int = _integer_setting(
        "Page size", "Documents per request.", default=100, minimum=1, maximum=100
    )
    lookback_days: int = _integer_setting(
        "Lookback days",
        "How far before the last sync to look again for late reviews and changed stats.",
        default=7,
        minimum=0,
        maximum=365,
    )
    max_concurrency: int = _integer_setting(
        "Maximum concurrency",
        "Requests in flight at once (inboxes are read in parallel).",
        default=4,
        minimum=1,
        maximum=32,
    )
    parallel_windows: bool = _boolean_setting(
        "Parallel windows",
        "Read a large inbox in several receive-time windows at once, within the maximum "
        "concurrency. Off: each inbox is read one page at a time.",
        default=True,
    )
    checkpoint_interval: int = _integer_setting(
        "Checkpoint interval",
        "Emit a state checkpoint at least every this many records.",
        default=1000,
        minimum=1,
        maximum=1_000_000,
    )
    request_timeout_seconds: float = _number_setting(
        "Request timeout (seconds)",
        "Timeout of one whole HTTP request, connection and body included.",
        default=60.0,
        minimum=1.0,
        maximum=3600.0,
    )
    max_retry_seconds: float = _number_setting(
        "Maximum retry time (seconds)",
        "Give up on a request after retrying transient errors for this long.",
        default=300.0,
        minimum=0.0,
        maximum=86_400.0,
    )
    ca_bundle: str | None = _setting(
        "string",
        "CA bundle",
        "Path of a PEM file of certificate authorities to trust instead of the system ones.",
        _ca_bundle,
    )
    allow_insecure_http: bool = _boolean_setting(
        "Allow plain HTTP",
        "Allow sending credentials over plain HTTP to a host that is not loopback. Off by default.",
        default=False,
    )
    fail_on_forbidden_inbox: bool = _boolean_setting(
        "Fail on a forbidden inbox",
        "Fail the sync when an inbox answers 403, instead of skipping it with a warning.",
        default=False,
    )
    max_response_mb: int = _integer_setting(
        "Maximum response size (MB)",
        "Refuse a response larger than this, counted after decompression.",
        default=256,
        minimum=1,
        maximum=4096,
    )

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> ConnectorConfig:
        if not isinstance(raw, Mapping):
            raise ConfigError(NOT_AN_OBJECT)
        values = {
            key: setting.parse(key, setting, raw.get(key, setting.default))
            for key, setting in SETTINGS.items()
        }
        config = cls(**values)
        _check_transport_security(config)
        return config


# Every setting by key, in declaration order: the one place to look a setting up.
SETTINGS: Mapping[str, Setting] = MappingProxyType(
    {spec.name: spec.metadata["setting"] for spec in fields(ConnectorConfig)}
)


def connection_specification() -> dict[str, Any]:
    """The JSON schema of the configuration, as Airbyte's `spec` shows it."""
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Contract.fit Source Spec",
        "type": "object",
        "required": [key for key, setting in SETTINGS.items() if setting.required],
        "additionalProperties": True,
        "properties": {
            key: setting.json_schema(order) for order, (key, setting) in enumerate(SETTINGS.items())
        },
    }


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
            f"'base_url' uses plain HTTP to {parts.hostname}, which would send your "
            "credentials unencrypted. Use https://, or set 'allow_insecure_http': true "
            "if you really mean it."
        )


# ------------------------------------------------------------------ the config file


@dataclass(frozen=True)
class FileMessages:
    """How a front end words a JSON file it cannot use: `{what}`, `{path}`, `{error}` filled in."""

    missing: str
    unreadable: str
    not_an_object: str


# The Airbyte front end's wording (the file may be the config, the catalog or the state).
FILE_MESSAGES = FileMessages(
    missing="The {what} file {path} does not exist.",
    unreadable="The {what} file could not be read: {error}.",
    not_an_object="The {what} file must hold a JSON object.",
)


def read_json_file(path: str | Path, what: str, messages: FileMessages = FILE_MESSAGES) -> Any:
    """The parsed JSON of a file the user named, or a `ConfigError` saying what is wrong."""
    try:
        return orjson.loads(Path(path).read_bytes())
    except FileNotFoundError:
        raise ConfigError(messages.missing.format(what=what, path=path)) from None
    except (OSError, orjson.JSONDecodeError) as error:
        raise ConfigError(messages.unreadable.format(what=what, path=path, error=error)) from None


def load_config_file(path: str | Path, messages: FileMessages = FILE_MESSAGES) -> ConnectorConfig:
    """The one config loader of every front end: read, check it is an object, validate."""
    raw = read_json_file(path, "config", messages)
    if not isinstance(raw, dict):
        raise ConfigError(messages.not_an_object.format(what="config", path=path))
    return ConnectorConfig.from_mapping(raw)
