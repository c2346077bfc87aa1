"""The one HTTP client: auth, retries, timeouts, concurrency limits, paging.

No other module talks HTTP. Every call goes through `ContractfitClient.get_json`, which
retries what API.md calls retryable (429, 500, 502, 503, 504, dropped connections,
truncated bodies) with exponential backoff and jitter that honours `Retry-After`, within a
bounded total wait, and maps everything else to an exception saying whose fault it is.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import httpx
import orjson

from . import __version__
from .auth import Auth, build_auth
from .config import ConnectorConfig
from .errors import (
    AuthenticationError,
    BadRequestError,
    ConfigError,
    ContractfitError,
    NotFoundError,
    PermissionDeniedError,
    ResponseFormatError,
    TransientError,
)
from .redact import Redactor

logger = logging.getLogger("source_contractfit.client")
# httpx logs every request URL at INFO; one line per page drowns the useful ones.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)

USER_AGENT = f"source-contractfit/{__version__} (+https://github.com/airbytehq/airbyte) httpx"
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
Params = Mapping[str, str | int | bool | None]


@dataclass
class RetryPolicy:
    """Backoff: min(cap, base * 2**attempt) with equal jitter; Retry-After wins when given."""

    max_attempts: int = 8
    base_seconds: float = 0.5
    cap_seconds: float = 30.0
    max_total_seconds: float = 300.0

    def delay(self, attempt: int, retry_after: float | None, rng: Callable[[], float]) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap_seconds * 4)
        ceiling = min(self.cap_seconds, self.base_seconds * (2**attempt))
        return ceiling / 2 + rng() * ceiling / 2


@dataclass
class RequestStats:
    """Counters for logs and benchmarks (requests sent, retries, logins)."""

    requests: int = 0
    retries: int = 0
    logins: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, status: int | None) -> None:
        with self._lock:
            self.requests += 1
            if status is not None:
                self.by_status[status] = self.by_status.get(status, 0) + 1


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class ContractfitClient:
    """Thread-safe; at most `max_concurrency` requests in flight across all threads."""

    def __init__(
        self,
        config: ConnectorConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        redactor: Redactor | None = None,
    ) -> None:
        self.config = config
        self.retry = retry or RetryPolicy(max_total_seconds=config.max_retry_seconds)
        self.stats = RequestStats()
        self.redactor = redactor or Redactor()
        self.redactor.add(*config.credentials.secrets())
        self._sleep = sleep
        self._monotonic = monotonic
        self._rng = rng
        self._slots = threading.BoundedSemaphore(config.max_concurrency)
        self._time_lock = threading.Lock()
        self._server_time: datetime | None = None
        limits = httpx.Limits(
            max_connections=config.max_concurrency,
            max_keepalive_connections=config.max_concurrency,
        )
        self._http = httpx.Client(
            base_url=config.base_url + "/",
            timeout=httpx.Timeout(config.request_timeout_seconds, connect=10.0),
            limits=limits,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            verify=config.ca_bundle or True,
            follow_redirects=False,
            transport=transport,
        )
        self.auth: Auth = build_auth(config.credentials, self._login, self.redactor.add)
        self.redactor.add(*self.auth.secrets())

    # -- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ContractfitClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public calls ----------------------------------------------------------------
    def get_json(self, path: str, params: Params | None = None) -> Any:
        """GET a path relative to base_url and return the decoded JSON body."""
        return self._request("GET", path, params=params, authenticated=True)

    def iter_pages(
        self, path: str, params: Params | None = None, per_page: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Page-number paging of API.md (`page` 1-based) until a short or empty page.

        Only safe on a result set that does not move; the documents reader uses keyset
        windows instead (see `documents.py`).
        """
        page = 1
        while True:
            body = self.get_json(path, {**(params or {}), "page": page, "per_page": per_page})
            results = expect_page(body, path)
            yield body
            if len(results) < per_page:
                return
            page += 1

    def server_time(self) -> datetime | None:
        """The server's present: the latest `Date` header seen (None before any, or when
        the server sends none). Cursors are capped by it, not by our own clock."""
        with self._time_lock:
            return self._server_time

    # -- internals -------------------------------------------------------------------
    def _note_server_time(self, header: str | None) -> None:
        if not header:
            return
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError, IndexError):
            return
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        with self._time_lock:
            if self._server_time is None or when > self._server_time:
                self._server_time = when

    def _login(self, username: str, password: str) -> str:
        self.stats.logins += 1
        body = self._request(
            "POST", "auth", json={"username": username, "password": password}, authenticated=False
        )
        token = body.get("authentication_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ResponseFormatError(
                "POST /auth answered 200 without an 'authentication_token' string; "
                "is 'base_url' the Contract.fit API?"
            )
        return token

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        authenticated: bool,
    ) -> Any:
        path = path.lstrip("/")
        started = self._monotonic()
        attempt = 0
        relogged = False
        clean_params = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        while True:
            headers = self.auth.headers() if authenticated else {}
            try:
                response = self._send(method, path, clean_params, json, headers)
                renewable = authenticated and self.auth.renewable and not relogged
                if response.status_code == 401 and renewable:
                    relogged = True
                    self.auth.renew(headers)
                    continue
                return self._decode(method, path, response)
            except _Retryable as problem:
                attempt += 1
                elapsed = self._monotonic() - started
                delay = self.retry.delay(attempt - 1, problem.retry_after, self._rng)
                if attempt >= self.retry.max_attempts or (
                    elapsed + delay > self.retry.max_total_seconds
                ):
                    raise TransientError(
                        f"{method} /{path} failed after {attempt} attempt(s) over "
                        f"{elapsed:.1f}s: {problem.reason}. The Contract.fit API is unavailable "
                        "or rate-limiting; try again later."
                    ) from None
                self.stats.retries += 1
                logger.warning(
                    "%s /%s: %s; retry %d in %.1fs", method, path, problem.reason, attempt, delay
                )
                self._sleep(delay)

    def _send(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        json: Any,
        headers: dict[str, str],
    ) -> httpx.Response:
        with self._slots:
            try:
                response = self._http.request(
                    method, path, params=params or None, json=json, headers=headers
                )
                response.read()
            except httpx.TimeoutException as exc:
                self.stats.count(None)
                raise _Retryable(f"timed out ({type(exc).__name__})") from None
            except (httpx.TransportError, httpx.DecodingError) as exc:
                self.stats.count(None)
                if isinstance(exc, httpx.ConnectError) and "certificate" in str(exc).lower():
                    raise ConfigError(
                        f"TLS verification failed for {self.config.base_url}: "
                        f"{self.redactor.mask(str(exc))}. Set 'ca_bundle' to your CA's PEM file."
                    ) from None
                raise _Retryable(f"connection problem ({type(exc).__name__}: {exc})") from None
        self.stats.count(response.status_code)
        self._note_server_time(response.headers.get("Date"))
        if response.status_code in RETRYABLE_STATUS:
            raise _Retryable(
                f"HTTP {response.status_code}", _retry_after(response.headers.get("Retry-After"))
            )
        return response

    def _decode(self, method: str, path: str, response: httpx.Response) -> Any:
        status = response.status_code
        where = f"{method} /{path}"
        if 200 <= status < 300:
            content_type = response.headers.get("Content-Type", "")
            try:
                return orjson.loads(response.content)
            except orjson.JSONDecodeError:
                if "html" in content_type:
                    raise ConfigError(
                        f"{where} returned an HTML page, not JSON: 'base_url' "
                        f"({self.config.base_url}) does not point at the Contract.fit API "
                        "(it usually ends in /api)."
                    ) from None
                raise ResponseFormatError(
                    f"{where} returned a body that is not valid JSON "
                    f"(Content-Type {content_type or 'missing'}, {len(response.content)} bytes)."
                ) from None
        message = self.redactor.mask(_server_message(response))
        if 300 <= status < 400:
            raise ConfigError(
                f"{where} was redirected ({status}) to {response.headers.get('Location')!r}; "
                "set 'base_url' to the final API address."
            )
        if status == 401:
            raise AuthenticationError(
                f"Contract.fit rejected the credentials (401: {message}). Check "
                "'credentials' (username/password or api_key); an API key may have been revoked."
            )
        if status == 403:
            raise PermissionDeniedError(
                f"{where}: permission insufficient (403: {message}). The user lacks the "
                "permission for this inbox or endpoint."
            )
        if status == 404:
            raise NotFoundError(f"{where}: not found (404: {message}).")
        if status == 400:
            raise BadRequestError(f"{where}: the server refused the request (400: {message}).")
        raise ContractfitError(f"{where}: unexpected HTTP {status} ({message}).")


def expect_page(body: Any, path: str) -> list[Any]:
    """Validate a `DocumentModelPaginated`-shaped body and return its results."""
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise ResponseFormatError(
            f"GET /{path.lstrip('/')}: expected a page object with a 'results' list "
            f"(API.md, DocumentModelPaginated), got {type(body).__name__}."
        )
    return body["results"]


def _param(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: an integer, or an HTTP date."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _server_message(response: httpx.Response) -> str:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        kind = response.headers.get("Content-Type", "no content type")
        return f"non-JSON body, {kind}"
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"][:500]
    return "no message"
