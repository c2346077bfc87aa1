"""The one HTTP client: auth, retries, timeouts, size limits, concurrency limits, paging.

No other module talks HTTP. Every call goes through `ContractfitClient.get_json`, which
retries what API.md calls retryable (429, 500, 502, 503, 504, dropped connections,
truncated bodies, including a 200 whose JSON was cut short) with exponential backoff and
jitter that honours a sane `Retry-After`, within a bounded total wait, and maps everything
else to an exception saying whose fault it is.

A response is streamed, never read whole before it is judged: `request_timeout_seconds`
bounds the whole request, body included (a deadline checked after every read, each read
itself bounded by the same timeout, so an attempt ends within the deadline plus one gap
between two packets), and `max_response_mb` bounds the body after decompression, counted
while it arrives, so neither a trickling server nor a gzip bomb can hold a run or its
memory.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from source_contractfit import __version__
from source_contractfit.api import jsonbody
from source_contractfit.api.auth import Auth, build_auth
from source_contractfit.api.errors import (
    AuthenticationError,
    BadRequestError,
    BaseUrlError,
    ContractfitError,
    NotFoundError,
    PermissionDeniedError,
    ResponseFormatError,
    TransientError,
)
from source_contractfit.api.redact import Redactor
from source_contractfit.config import ConnectorConfig

logger = logging.getLogger("source_contractfit.api.client")
# httpx logs every request URL at INFO; one line per page drowns the useful ones.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)

USER_AGENT = f"source-contractfit/{__version__} (+https://github.com/airbytehq/airbyte) httpx"
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
OUTAGE_RETRY_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 10.0
# What API.md says an id is; any other value is still read, percent-encoded, with a warning.
OBJECT_ID = re.compile(r"[0-9a-f]{24}")
# A request path as `_request` accepts it: segments of unreserved characters, sub-delims,
# ':' and '@', or percent-escapes; never '.' or '..'. An id interpolated without
# `api_path()` that holds '/', '?', '#' or '..' fails loudly here instead of leaving /api.
_SEGMENT = r"([A-Za-z0-9\-_.~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})+"
_SAFE_PATH = re.compile(rf"{_SEGMENT}(/{_SEGMENT})*")


def api_path(template: str, **segments: str | int) -> str:
    """`template` (e.g. "inboxes/{inbox_id}/paginated") with each `{name}` replaced by its
    value percent-encoded as one path segment (`/`, `?`, `#`, `%` included), so an id can
    never change which endpoint is asked."""
    return template.format_map({k: quote(str(v), safe="") for k, v in segments.items()})


def check_path(request_path: str) -> None:
    """Refuse a path that could leave the API root or lose its end to a query/fragment."""
    parts = request_path.split("/")
    if not _SAFE_PATH.fullmatch(request_path) or any(p in (".", "..") for p in parts):
        raise ValueError(
            f"unsafe request path {request_path!r}: build it with api.client.api_path(), "
            "which percent-encodes each id"
        )


# Before any request of a client got an answer, a refused connection or an unknown host
# is most likely a typo in base_url: one quick retry, then a config error.
UNREACHED_ATTEMPTS = 2
UNREACHED_MAX_DELAY = 1.0
_INFLATE_PIECE = 1 << 20  # inflate at most this many bytes per step
Params = Mapping[str, str | int | bool | None]
# A body's bytes -> its JSON value (jsonbody.loads, or an equivalent that builds less).
Decoder = Callable[[bytes | bytearray], Any]


@dataclass
class RetryPolicy:
    """Backoff: min(cap, base * 2**attempt) with equal jitter; Retry-After wins when given."""

    max_attempts: int = 8
    base_seconds: float = 0.5
    cap_seconds: float = 30.0
    max_total_seconds: float = 300.0

    def delay(self, attempt: int, retry_after: float | None, rng: Callable[[], float]) -> float:
        if retry_after is not None and math.isfinite(retry_after):
            return min(max(retry_after, 0.0), self.cap_seconds * 4)
        ceiling = min(self.cap_seconds, self.base_seconds * 2.0**attempt)
        return float(ceiling / 2 + rng() * ceiling / 2)


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
    """A failure worth another attempt. `final` is raised instead of the generic
    TransientError when the attempts run out; `max_attempts`/`max_delay` shorten the
    policy for failures that are probably not transient at all."""

    def __init__(
        self,
        reason: str,
        retry_after: float | None = None,
        *,
        final: ContractfitError | None = None,
        max_attempts: int | None = None,
        max_delay: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.final = final
        self.max_attempts = max_attempts
        self.max_delay = max_delay


@dataclass(frozen=True)
class _Answer:
    """A response whose body was read within the deadline and the size cap."""

    status_code: int
    headers: httpx.Headers
    body: bytes | bytearray


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
        # Set when a request ran out of retries, cleared by the next answer: while the API
        # is down, each later stream gives up within OUTAGE_RETRY_SECONDS instead of waiting
        # out the whole budget again (the run still fails each stream, with its reason).
        self._outage = False
        self._server_time: datetime | None = None
        self._reached = False  # True once any request of this client got an answer
        self._odd_id_kinds: set[str] = set()  # id kinds already warned about
        self._id_lock = threading.Lock()
        self._max_bytes = config.max_response_mb * 1024 * 1024
        limits = httpx.Limits(
            max_connections=config.max_concurrency,
            max_keepalive_connections=config.max_concurrency,
        )
        timeout = config.request_timeout_seconds
        self._http = httpx.Client(
            base_url=config.base_url + "/",
            # Per read; the whole request is bounded by the deadline of `_send`.
            timeout=httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT_SECONDS, timeout)),
            limits=limits,
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                # Only what `_Inflater` decodes in bounded steps.
                "Accept-Encoding": "gzip, deflate",
            },
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
    def get_json(
        self, path: str, params: Params | None = None, *, decode: Decoder | None = None
    ) -> Any:
        """GET a path relative to base_url and return the decoded JSON body.

        A path holding an id comes from `self.path(...)` (or `api_path(...)`); any other is
        refused by `check_path`. `decode` replaces `jsonbody.loads` for this body; it must
        give the same value (the exporter's `lazy.loads` leaves parts of a page unbuilt)
        and raise `orjson.JSONDecodeError` where jsonbody would."""
        return self._request("GET", path, params=params, authenticated=True, decode=decode)

    def path(self, template: str, **ids: str) -> str:
        """`api_path(template, **ids)`, warning once per id kind about an id API.md forbids
        (not 24 lowercase hex): it is still read, percent-encoded."""
        for kind, value in ids.items():
            if OBJECT_ID.fullmatch(value) or kind in self._odd_id_kinds:
                continue
            with self._id_lock:
                first = kind not in self._odd_id_kinds
                self._odd_id_kinds.add(kind)
            if first:
                logger.warning(
                    "The API answered %s %r, which is not 24 lowercase hex characters as "
                    "API.md says ids are; reading it anyway, percent-encoded in the URL "
                    "(further such %s values are not reported).",
                    kind,
                    value,
                    kind,
                )
        return api_path(template, **ids)

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
        except (TypeError, ValueError, IndexError, OverflowError):
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
        decode: Decoder | None = None,
    ) -> Any:
        path = path.lstrip("/")
        check_path(path)
        started = self._monotonic()
        attempt = 0
        relogged = False
        clean_params = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        while True:
            headers = self.auth.headers() if authenticated else {}
            try:
                answer = self._send(method, path, clean_params, json, headers)
                renewable = authenticated and self.auth.renewable and not relogged
                if answer.status_code == 401 and renewable:
                    relogged = True
                    self.auth.renew(headers)
                    continue
                decoded = self._decode(method, path, answer, decode or jsonbody.loads)
                self._outage = False
                return decoded
            except _Retryable as problem:
                attempt += 1
                elapsed = self._monotonic() - started
                delay = self.retry.delay(attempt - 1, problem.retry_after, self._rng)
                if problem.max_delay is not None:
                    delay = min(delay, problem.max_delay)
                limit = self.retry.max_attempts
                if problem.max_attempts is not None:
                    limit = min(limit, problem.max_attempts)
                budget = self.retry.max_total_seconds
                if self._outage:
                    budget = min(budget, OUTAGE_RETRY_SECONDS)
                if attempt >= limit or elapsed + delay > budget:
                    if problem.final is not None:
                        raise problem.final from None
                    self._outage = True
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
    ) -> _Answer:
        where = f"{method} /{path}"
        timeout = self.config.request_timeout_seconds
        counted = False
        with self._slots:
            deadline = time.monotonic() + timeout
            try:
                with self._http.stream(
                    method, path, params=params or None, json=json, headers=headers
                ) as response:
                    self._reached = True
                    self.stats.count(response.status_code)
                    counted = True
                    self._note_server_time(response.headers.get("Date"))
                    body = self._read_body(response, deadline, where)
            except httpx.TimeoutException as exc:
                if not counted:
                    self.stats.count(None)
                raise _Retryable(f"timed out ({type(exc).__name__})") from None
            except httpx.TransportError as exc:
                if not counted:
                    self.stats.count(None)
                if isinstance(exc, httpx.ConnectError):
                    self._connect_failed(exc)
                raise _Retryable(f"connection problem ({type(exc).__name__}: {exc})") from None
        answer = _Answer(response.status_code, response.headers, body)
        if answer.status_code in RETRYABLE_STATUS:
            raise _Retryable(
                f"HTTP {answer.status_code}", _retry_after(answer.headers.get("Retry-After"))
            )
        return answer

    def _connect_failed(self, exc: httpx.ConnectError) -> None:
        """TLS trouble, or a base_url never reached: say it is the config (BaseUrlError)."""
        text = str(exc)
        base_url = self.config.base_url
        if "certificate" in text.lower():
            raise BaseUrlError(
                f"TLS verification failed for {base_url}: "
                f"{self.redactor.mask(text)}. Set 'ca_bundle' to your CA's PEM file."
            ) from None
        if self._reached:
            return  # the API answered before: it went away mid-sync, retry as usual
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ConnectionRefusedError) or "connection refused" in text.lower():
            reason = "connection refused"
        elif isinstance(cause, socket.gaierror) or "name or service not known" in text.lower():
            reason = "unknown host"
        else:
            reason = self.redactor.mask(text) or type(exc).__name__
        raise _Retryable(
            f"connection problem ({type(exc).__name__}: {exc})",
            final=BaseUrlError(
                f"Could not connect to {base_url} ({reason}): check 'base_url' (host and port)."
            ),
            max_attempts=UNREACHED_ATTEMPTS,
            max_delay=UNREACHED_MAX_DELAY,
        ) from None

    def _read_body(self, response: httpx.Response, deadline: float, where: str) -> bytearray:
        """The decoded body, read against the whole-request deadline and the size cap."""
        cap = self._max_bytes
        codings = [
            c.strip().lower()
            for c in response.headers.get("Content-Encoding", "").split(",")
            if c.strip() and c.strip().lower() != "identity"
        ]
        length = response.headers.get("Content-Length", "")
        expected = int(length) if length.isdigit() else None
        if not codings and expected is not None and expected > cap:
            raise self._too_large(where)
        if response.is_stream_consumed:  # read in memory already (a test transport)
            if len(response.content) > cap:
                raise self._too_large(where)
            return bytearray(response.content)
        # Codings apply in the order listed: undo the last one first.
        inflaters = [_Inflater(c) for c in reversed(codings) if c in _Inflater.CODINGS]
        body = bytearray()
        try:
            for raw in response.iter_raw():
                for piece in _inflate(inflaters, raw):
                    body += piece
                    if len(body) > cap:
                        raise self._too_large(where)
                complete = expected is not None and response.num_bytes_downloaded >= expected
                if not complete and time.monotonic() > deadline:
                    seconds = self.config.request_timeout_seconds
                    raise _Retryable(f"timed out (the whole request took over {seconds:g}s)")
            for piece in _finish(inflaters):
                body += piece
                if len(body) > cap:
                    raise self._too_large(where)
        except _BadCoding as problem:
            if not 200 <= response.status_code < 300:
                return body  # only an error message is lost
            coding = ", ".join(codings)
            raise _Retryable(
                f"HTTP {response.status_code} with a {coding} body that {problem}",
                final=ResponseFormatError(
                    f"{where} returned a {coding} body that {problem} "
                    f"({response.num_bytes_downloaded} bytes received)."
                ),
            ) from None
        return body

    def _too_large(self, where: str) -> ResponseFormatError:
        mb = self.config.max_response_mb
        return ResponseFormatError(
            f"{where} returned a response larger than {mb} MB (the 'max_response_mb' cap, "
            "counted after decompression); refused. Raise 'max_response_mb' if the API "
            "really sends that much, or lower 'page_size'."
        )

    def _decode(self, method: str, path: str, answer: _Answer, decode: Decoder) -> Any:
        status = answer.status_code
        where = f"{method} /{path}"
        if 200 <= status < 300:
            content_type = answer.headers.get("Content-Type", "")
            try:
                return decode(answer.body)
            except orjson.JSONDecodeError:
                if "html" in content_type:
                    raise BaseUrlError(
                        f"{where} returned an HTML page, not JSON: 'base_url' "
                        f"({self.config.base_url}) does not point at the Contract.fit API "
                        "(it usually ends in /api)."
                    ) from None
                # Complete by its Content-Length, yet not JSON: most often a body cut short
                # by a proxy. Retried like a dropped connection; a body that stays broken
                # is the server's fault.
                raise _Retryable(
                    f"HTTP {status} with a body that is not valid JSON ({len(answer.body)} bytes)",
                    final=ResponseFormatError(
                        f"{where} returned a body that is not valid JSON (Content-Type "
                        f"{content_type or 'missing'}, {len(answer.body)} bytes)."
                    ),
                ) from None
        message = self.redactor.mask(_server_message(answer))
        if 300 <= status < 400:
            raise BaseUrlError(
                f"{where} was redirected ({status}) to "
                f"{self.redactor.mask(repr(answer.headers.get('Location')))}; "
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


class _BadCoding(Exception):
    """A gzip/deflate body that cannot be inflated (the text completes "a body that ...")."""


class _Inflater:
    """One gzip or deflate coding, inflated in pieces of at most `_INFLATE_PIECE` bytes,
    so that a small compressed body never expands in memory beyond what is asked for."""

    CODINGS = frozenset({"gzip", "x-gzip", "deflate"})

    def __init__(self, coding: str) -> None:
        self._deflate = coding == "deflate"
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS if self._deflate else zlib.MAX_WBITS | 16)
        self._first = True
        self._fed = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._fed = self._fed or bool(data)
        while data:
            try:
                piece = self._zlib.decompress(data, _INFLATE_PIECE)
            except zlib.error as exc:
                if self._deflate and self._first:  # raw deflate, without the zlib header
                    self._first = False
                    self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise _BadCoding(f"cannot be decompressed ({exc})") from None
            self._first = False
            if piece:
                yield piece
            data = self._zlib.unconsumed_tail

    def finish(self) -> Iterator[bytes]:
        if not self._fed:
            return  # an empty body, as error answers and HEAD have
        if not self._zlib.eof:
            raise _BadCoding("ends before its compressed stream does")
        tail = self._zlib.flush()
        if tail:
            yield tail


def _inflate(inflaters: list[_Inflater], data: bytes) -> Iterator[bytes]:
    if not inflaters:
        yield data
        return
    first, rest = inflaters[0], inflaters[1:]
    for piece in first.feed(data):
        yield from _inflate(rest, piece)


def _finish(inflaters: list[_Inflater]) -> Iterator[bytes]:
    for index, inflater in enumerate(inflaters):
        for piece in inflater.finish():
            yield from _inflate(inflaters[index + 1 :], piece)


def expect_page(body: Any, path: str) -> list[Any]:
    """Validate a `DocumentModelPaginated`-shaped body and return its results."""
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise ResponseFormatError(
            f"GET /{path.lstrip('/')}: expected a page object with a 'results' list "
            f"(API.md, DocumentModelPaginated), got {type(body).__name__}."
        )
    results: list[Any] = body["results"]
    return results


def _param(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds, or an HTTP date.

    None (the normal backoff) for anything else: garbage, a negative number, nan or inf
    (float() accepts those, and time.sleep(nan) raises). A huge value is capped by
    `RetryPolicy.delay`.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(when.timestamp() - time.time(), 0.0)


def _server_message(answer: _Answer) -> str:
    try:
        body = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        kind = answer.headers.get("Content-Type", "no content type")
        return f"non-JSON body, {kind}"
    message = body.get("message") if isinstance(body, dict) else None
    return message[:500] if isinstance(message, str) else "no message"
