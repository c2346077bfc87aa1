"""The three authentication schemes of API.md, as header providers.

Auth objects never perform I/O themselves: the JWT scheme is handed a `login` callable by
the client, so the one HTTP client stays the only thing that talks to the network. The API
key always travels in a header, never in the query string (query strings end up in logs).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable

from source_contractfit.config import Credentials


class Auth:
    """Base: fixed headers, nothing to renew."""

    renewable = False

    def headers(self) -> dict[str, str]:
        raise NotImplementedError

    def renew(self, stale_headers: dict[str, str]) -> None:
        """Called after a 401; only the JWT scheme can do something about it."""

    def secrets(self) -> list[str]:
        """Values that must be masked wherever text leaves the process."""
        return []


class ApiKeyAuth(Auth):
    def __init__(self, api_key: str) -> None:
        self._headers = {"X-API-Key": api_key}
        self._api_key = api_key

    def headers(self) -> dict[str, str]:
        return self._headers

    def secrets(self) -> list[str]:
        return [self._api_key]


class BasicAuth(Auth):
    def __init__(self, username: str, password: str) -> None:
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {token}"}
        self._secrets = [password, token]

    def headers(self) -> dict[str, str]:
        return self._headers

    def secrets(self) -> list[str]:
        return self._secrets


class TokenAuth(Auth):
    """JWT from `POST /auth`; logs in lazily and again once when a request gets 401."""

    renewable = True

    def __init__(
        self,
        username: str,
        password: str,
        login: Callable[[str, str], str],
        on_new_secret: Callable[[str], None] | None = None,
    ) -> None:
        self._username = username
        self._password = password
        self._login = login
        self._on_new_secret = on_new_secret
        self._headers: dict[str, str] | None = None
        self._lock = threading.Lock()
        self._tokens: list[str] = []

    def headers(self) -> dict[str, str]:
        with self._lock:
            if self._headers is None:
                self._refresh_locked()
            assert self._headers is not None
            return self._headers

    def renew(self, stale_headers: dict[str, str]) -> None:
        # Several threads may see 401 for the same expired token; only the first re-logs in.
        with self._lock:
            if self._headers is None or self._headers is stale_headers:
                self._refresh_locked()

    def _refresh_locked(self) -> None:
        token = self._login(self._username, self._password)
        self._tokens.append(token)
        if self._on_new_secret is not None:
            self._on_new_secret(token)
        self._headers = {"Authorization": f"Bearer {token}"}

    def secrets(self) -> list[str]:
        return [self._password, *self._tokens]


def build_auth(
    credentials: Credentials,
    login: Callable[[str, str], str],
    on_new_secret: Callable[[str], None] | None = None,
) -> Auth:
    if credentials.auth_type == "api_key":
        assert credentials.api_key is not None
        return ApiKeyAuth(credentials.api_key)
    assert credentials.username is not None and credentials.password is not None
    if credentials.auth_type == "basic":
        return BasicAuth(credentials.username, credentials.password)
    return TokenAuth(credentials.username, credentials.password, login, on_new_secret)
