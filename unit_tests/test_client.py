"""The HTTP client: retries, backoff, re-login, error mapping (httpx.MockTransport), and
the whole-request deadline, size cap and bounded decompression (small loopback servers)."""

from __future__ import annotations

import base64
import email.utils
import math
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable
from datetime import datetime, timezone

import httpx
import orjson
import pytest

from source_contractfit.api.client import ContractfitClient, RetryPolicy, _retry_after
from source_contractfit.api.errors import (
    AuthenticationError,
    BadRequestError,
    BaseUrlError,
    ConfigError,
    ContractfitError,
    NotFoundError,
    PermissionDeniedError,
    ResponseFormatError,
    TransientError,
)
from source_contractfit.config import ConnectorConfig
from source_contractfit.read.context import not_the_api_root

BASE = "https://cf.example.test/api"
API_KEY = "key-0123456789-secret"
PASSWORD = "pa55-w0rd-secret"
MIB = 1024 * 1024


def config(**overrides: object) -> ConnectorConfig:
    raw: dict[str, object] = {
        "base_url": BASE,
        "credentials": {"auth_type": "api_key", "api_key": API_KEY},
    }
    raw.update(overrides)
    return ConnectorConfig.from_mapping(raw)


def json_response(status: int, body: object, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, content=orjson.dumps(body), headers={"Content-Type": "application/json", **headers}
    )


class Harness:
    """A client whose sleeps are recorded instead of slept, with a scripted server."""

    def __init__(
        self,
        handler: Callable[[httpx.Request], httpx.Response],
        cfg: ConnectorConfig | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.sleeps: list[float] = []
        self.requests: list[httpx.Request] = []
        self.now = 0.0

        def record(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return handler(request)

        def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)
            self.now += seconds

        self.client = ContractfitClient(
            cfg or config(),
            transport=httpx.MockTransport(record),
            retry=policy,
            sleep=sleep,
            monotonic=lambda: self.now,
            rng=lambda: 0.5,
        )


def scripted(*responses: httpx.Response | Exception) -> Callable[[httpx.Request], httpx.Response]:
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return handler


def test_api_key_goes_in_header_never_in_url_and_user_agent_names_connector() -> None:
    h = Harness(scripted(json_response(200, {"username": "me"})))
    assert h.client.get_json("users/me") == {"username": "me"}
    request = h.requests[0]
    assert request.headers["X-API-Key"] == API_KEY
    assert API_KEY not in str(request.url)
    assert request.url.path == "/api/users/me"
    assert request.headers["User-Agent"].startswith("source-contractfit/")


def test_basic_auth_header() -> None:
    cfg = config(credentials={"auth_type": "basic", "username": "ann", "password": PASSWORD})
    h = Harness(scripted(json_response(200, [])), cfg)
    h.client.get_json("inboxes")
    expected = base64.b64encode(f"ann:{PASSWORD}".encode()).decode()
    assert h.requests[0].headers["Authorization"] == f"Basic {expected}"


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retryable_status_is_retried_then_succeeds(status: int) -> None:
    h = Harness(scripted(json_response(status, {"message": "busy"}), json_response(200, [1])))
    assert h.client.get_json("inboxes") == [1]
    assert len(h.requests) == 2
    assert h.client.stats.retries == 1


def test_retry_after_is_honoured() -> None:
    h = Harness(
        scripted(
            json_response(429, {"message": "slow down"}, **{"Retry-After": "7"}),
            json_response(200, []),
        )
    )
    h.client.get_json("inboxes")
    assert h.sleeps == [7.0]


def test_exponential_backoff_with_jitter_grows_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=7, base_seconds=1.0, cap_seconds=8.0, max_total_seconds=1e9)
    h = Harness(
        scripted(*[json_response(500, {"message": "x"}) for _ in range(6)], json_response(200, [])),
        policy=policy,
    )
    h.client.get_json("inboxes")
    # rng=0.5 gives 3/4 of the ceiling: ceilings 1, 2, 4, 8, 8, 8.
    assert h.sleeps == [0.75, 1.5, 3.0, 6.0, 6.0, 6.0]


def test_jitter_spreads_delays() -> None:
    policy = RetryPolicy(base_seconds=1.0, cap_seconds=30.0)
    low = policy.delay(3, None, lambda: 0.0)
    high = policy.delay(3, None, lambda: 0.999)
    assert low == 4.0 and 7.9 < high < 8.0


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
        httpx.ReadError("reset"),
    ],
)
def test_connection_errors_and_truncated_bodies_are_retried(error: Exception) -> None:
    h = Harness(scripted(error, json_response(200, {"ok": True})))
    assert h.client.get_json("about/version") == {"ok": True}
    assert len(h.requests) == 2


def test_retries_exhausted_is_transient_with_readable_message() -> None:
    policy = RetryPolicy(max_attempts=3, base_seconds=0.1)
    h = Harness(lambda r: json_response(503, {"message": "down"}), policy=policy)
    with pytest.raises(TransientError) as caught:
        h.client.get_json("inboxes")
    assert "after 3 attempt(s)" in caught.value.message
    assert "HTTP 503" in caught.value.message
    assert len(h.requests) == 3


def test_total_wait_is_bounded() -> None:
    policy = RetryPolicy(max_attempts=100, base_seconds=1.0, cap_seconds=10, max_total_seconds=30)
    h = Harness(lambda r: json_response(500, {"message": "down"}), policy=policy)
    with pytest.raises(TransientError):
        h.client.get_json("inboxes")
    assert sum(h.sleeps) <= 30


def test_once_a_request_ran_out_of_retries_later_ones_give_up_sooner_until_an_answer() -> None:
    # The API went down: the first stream waits out the whole budget, the next streams
    # only OUTAGE_RETRY_SECONDS each, and an answer restores the full budget.
    from source_contractfit.api.client import OUTAGE_RETRY_SECONDS

    policy = RetryPolicy(max_attempts=100, base_seconds=1.0, cap_seconds=4, max_total_seconds=60)
    down = {"now": True}

    def handler(request: httpx.Request) -> httpx.Response:
        if down["now"] and request.url.path.endswith("/stats"):
            return json_response(503, {"message": "down"})
        return json_response(200, [])

    h = Harness(handler, policy=policy)
    for budget in (60, OUTAGE_RETRY_SECONDS, OUTAGE_RETRY_SECONDS):
        before = h.now
        with pytest.raises(TransientError):
            h.client.get_json("stats")
        assert budget - 4 <= h.now - before <= budget, (budget, h.now - before)
    assert h.client.get_json("inboxes") == []  # an answer: the API is back
    before = h.now
    with pytest.raises(TransientError):
        h.client.get_json("stats")
    assert h.now - before > OUTAGE_RETRY_SECONDS


def test_jwt_login_then_relogin_once_on_401() -> None:
    tokens = iter(["tok-aaaaaaaa", "tok-bbbbbbbb"])
    seen_auth: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/auth":
            body = orjson.loads(request.content)
            assert body == {"username": "ann", "password": PASSWORD}
            return json_response(200, {"authentication_token": next(tokens)})
        seen_auth.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer tok-aaaaaaaa" and len(seen_auth) > 1:
            return json_response(401, {"message": "Token expired"})
        return json_response(200, {"page": 1})

    cfg = config(credentials={"auth_type": "token", "username": "ann", "password": PASSWORD})
    h = Harness(handler, cfg)
    assert h.client.get_json("inboxes/x/paginated") == {"page": 1}
    assert h.client.get_json("inboxes/x/paginated") == {"page": 1}
    assert seen_auth == ["Bearer tok-aaaaaaaa", "Bearer tok-aaaaaaaa", "Bearer tok-bbbbbbbb"]
    assert h.client.stats.logins == 2


def test_jwt_second_401_is_an_authentication_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/auth":
            return json_response(200, {"authentication_token": "tok-cccccccc"})
        return json_response(401, {"message": "Token revoked"})

    cfg = config(credentials={"auth_type": "token", "username": "ann", "password": PASSWORD})
    h = Harness(handler, cfg)
    with pytest.raises(AuthenticationError) as caught:
        h.client.get_json("inboxes")
    assert caught.value.kind.value == "config_error"
    assert h.client.stats.logins == 2


def test_wrong_password_on_login_is_authentication_error() -> None:
    cfg = config(credentials={"auth_type": "token", "username": "ann", "password": PASSWORD})
    h = Harness(lambda r: json_response(401, {"message": "Wrong credentials"}), cfg)
    with pytest.raises(AuthenticationError) as caught:
        h.client.get_json("users/me")
    assert "Wrong credentials" in caught.value.message
    assert PASSWORD not in caught.value.message


@pytest.mark.parametrize(
    ("status", "error_type", "fragment"),
    [
        (400, BadRequestError, "refused the request"),
        (401, AuthenticationError, "rejected the credentials"),
        (403, PermissionDeniedError, "permission insufficient"),
        (404, NotFoundError, "not found"),
    ],
)
def test_non_retryable_errors_map_to_clear_exceptions(
    status: int, error_type: type[Exception], fragment: str
) -> None:
    h = Harness(lambda r: json_response(status, {"message": "server says no"}))
    with pytest.raises(error_type) as caught:
        h.client.get_json("inboxes/abc/paginated")
    assert fragment in str(caught.value)
    assert "server says no" in str(caught.value)
    assert len(h.requests) == 1


def test_html_page_means_wrong_base_url_at_once() -> None:
    page = httpx.Response(
        200, content=b"<html>Welcome</html>", headers={"Content-Type": "text/html"}
    )
    h = Harness(lambda r: page)
    with pytest.raises(BaseUrlError) as caught:
        h.client.get_json("users/me")
    assert "does not point at the Contract.fit API" in caught.value.message
    assert caught.value.stops_run and caught.value.kind.value == "config_error"
    assert len(h.requests) == 1  # not retried


def test_redirect_is_a_base_url_error_that_stops_the_run() -> None:
    moved = httpx.Response(301, headers={"Location": "https://elsewhere.test/api/users/me"})
    h = Harness(lambda r: moved)
    with pytest.raises(BaseUrlError) as caught:
        h.client.get_json("users/me")
    assert caught.value.stops_run and "was redirected (301)" in caught.value.message
    assert len(h.requests) == 1


def test_stops_run_marks_only_errors_no_other_stream_could_survive() -> None:
    assert AuthenticationError("x").stops_run and BaseUrlError("x").stops_run
    assert issubclass(BaseUrlError, ConfigError)
    for kind in (ConfigError, PermissionDeniedError, NotFoundError, BadRequestError,
                 TransientError, ResponseFormatError, ContractfitError):  # fmt: skip
        assert not kind("x").stops_run, kind


def test_not_the_api_root_is_a_base_url_error() -> None:
    error = not_the_api_root("GET /inboxes", BASE)
    assert isinstance(error, BaseUrlError) and error.stops_run


CUT = b'{"page": 1, "results": [{"id": '  # a 200 cut short, its Content-Length consistent


def test_a_200_cut_short_is_retried_then_succeeds() -> None:
    cut = httpx.Response(200, content=CUT, headers={"Content-Type": "application/json"})
    h = Harness(scripted(cut, cut, json_response(200, {"page": 1, "results": []})))
    assert h.client.get_json("inboxes/x/paginated") == {"page": 1, "results": []}
    assert len(h.requests) == 3 and h.client.stats.retries == 2
    assert h.sleeps == [0.375, 0.75]  # the normal backoff


def test_a_body_still_invalid_after_the_retries_is_a_response_format_error() -> None:
    policy = RetryPolicy(max_attempts=3, base_seconds=0.1)
    cut = httpx.Response(200, content=CUT, headers={"Content-Type": "application/json"})
    h = Harness(lambda r: cut, policy=policy)
    with pytest.raises(ResponseFormatError) as caught:
        h.client.get_json("inboxes/x/paginated")
    assert caught.value.message == (
        "GET /inboxes/x/paginated returned a body that is not valid JSON "
        "(Content-Type application/json, 31 bytes)."
    )
    assert caught.value.kind.value == "system_error"
    assert len(h.requests) == 3


def test_a_cut_body_within_a_spent_budget_is_still_a_response_format_error() -> None:
    policy = RetryPolicy(max_attempts=8, base_seconds=0.5, max_total_seconds=0.0)
    cut = httpx.Response(200, content=CUT, headers={"Content-Type": "application/json"})
    h = Harness(lambda r: cut, policy=policy)
    with pytest.raises(ResponseFormatError):
        h.client.get_json("inboxes/x/paginated")
    assert len(h.requests) == 1


def test_secret_echoed_by_server_is_masked_in_error() -> None:
    h = Harness(lambda r: json_response(401, {"message": f"bad key {API_KEY}"}))
    with pytest.raises(AuthenticationError) as caught:
        h.client.get_json("users/me")
    assert API_KEY not in caught.value.message
    assert "****" in caught.value.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        ("0", 0.0),
        (" 2 ", 2.0),
        ("1.5", 1.5),
        ("1e12", 1e12),  # huge but finite: RetryPolicy.delay caps it
        ("junk", None),
        ("", None),
        (None, None),
        ("nan", None),
        ("NaN", None),
        ("inf", None),
        ("-inf", None),
        ("1e400", None),  # float() says inf
        ("-1", None),
        ("-0.5", None),
        ("Wed, 21 Oct 99999 07:28:00 GMT", None),
        ("Wed, 32 Foo 2015 07:28:00 GMT", None),
    ],
)
def test_retry_after_parsing(value: str | None, expected: float | None) -> None:
    assert _retry_after(value) == expected


def test_retry_after_http_date_in_the_past_is_zero() -> None:
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_retry_after_http_date_in_the_future_is_seconds_from_now() -> None:
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= (_retry_after(soon) or 0) <= 30


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_retry_policy_ignores_a_non_finite_retry_after(value: float) -> None:
    assert RetryPolicy(base_seconds=1.0).delay(0, value, lambda: 0.5) == 0.75


@pytest.mark.parametrize(
    ("header", "slept"),
    [("nan", 0.375), ("inf", 0.375), ("-1", 0.375), ("soon", 0.375), ("1e12", 120.0)],
)
def test_a_bad_retry_after_falls_back_to_a_bounded_wait_and_the_retry_succeeds(
    header: str, slept: float
) -> None:
    h = Harness(
        scripted(
            json_response(429, {"message": "slow down"}, **{"Retry-After": header}),
            json_response(200, [1]),
        )
    )
    assert h.client.get_json("inboxes") == [1]
    assert h.sleeps == [slept]


# -- a typo in base_url ----------------------------------------------------------------


def refused() -> httpx.ConnectError:
    error = httpx.ConnectError("[Errno 111] Connection refused")
    error.__cause__ = ConnectionRefusedError(111, "Connection refused")
    return error


def unknown_host() -> httpx.ConnectError:
    error = httpx.ConnectError("[Errno -2] Name or service not known")
    error.__cause__ = socket.gaierror(-2, "Name or service not known")
    return error


@pytest.mark.parametrize(
    ("error", "reason"), [(refused, "connection refused"), (unknown_host, "unknown host")]
)
def test_first_request_unreachable_is_a_base_url_error_after_one_quick_retry(
    error: Callable[[], Exception], reason: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error()

    h = Harness(handler)  # the default policy: 8 attempts, 300 s
    with pytest.raises(BaseUrlError) as caught:
        h.client.get_json("users/me")
    assert caught.value.message == (
        f"Could not connect to {BASE} ({reason}): check 'base_url' (host and port)."
    )
    assert caught.value.kind.value == "config_error" and caught.value.stops_run
    assert len(h.requests) == 2 and sum(h.sleeps) <= 1.0


def test_unreachable_once_the_api_answered_is_retried_as_usual() -> None:
    h = Harness(
        scripted(
            json_response(200, {"username": "me"}),
            refused(),
            refused(),
            refused(),
            unknown_host(),
            json_response(200, []),
        )  # fmt: skip
    )
    assert h.client.get_json("users/me") == {"username": "me"}
    assert h.client.get_json("inboxes") == []
    assert len(h.requests) == 6 and h.client.stats.retries == 4


def test_unreachable_after_an_error_answer_is_retried_as_usual() -> None:
    h = Harness(scripted(json_response(503, {"message": "down"}), refused(), refused(),
                         json_response(200, [])))  # fmt: skip
    assert h.client.get_json("inboxes") == []
    assert len(h.requests) == 4


def test_tls_failure_is_a_base_url_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")

    h = Harness(handler)
    with pytest.raises(BaseUrlError) as caught:
        h.client.get_json("users/me")
    assert caught.value.message.startswith(f"TLS verification failed for {BASE}: [SSL:")
    assert caught.value.stops_run and len(h.requests) == 1


def test_a_real_refused_port_is_a_base_url_error_within_seconds() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}/api"
    started = time.monotonic()
    with ContractfitClient(config(base_url=base)) as client, pytest.raises(BaseUrlError) as caught:
        client.get_json("users/me")
    assert time.monotonic() - started < 3
    assert caught.value.message == (
        f"Could not connect to {base} (connection refused): check 'base_url' (host and port)."
    )


# -- real sockets: whole-request deadline, size cap, bounded decompression -------------


class RawServer:
    """A loopback HTTP/1.1 server whose `respond(conn, n)` writes the n-th answer by hand.

    One thread, one connection at a time, bounded: it stops at `close()`, and every
    socket has a timeout so that no loop can outlive the test.
    """

    def __init__(self, respond: Callable[[socket.socket, int], None]) -> None:
        self._respond = respond
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self.requests = 0
        self.base_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/api"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                self._connection(conn)

    def _connection(self, conn: socket.socket) -> None:
        buffer = b""
        while not self._stop.is_set():
            while b"\r\n\r\n" not in buffer:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buffer += data
            _, _, buffer = buffer.partition(b"\r\n\r\n")  # GETs only: no request body
            self.requests += 1
            try:
                self._respond(conn, self.requests)
            except OSError:
                return  # the client went away

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=15)

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def head(length: int | None, *extra: str, status: str = "200 OK") -> bytes:
    lines = [f"HTTP/1.1 {status}", "Content-Type: application/json", *extra]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def real_client(
    base_url: str, policy: RetryPolicy | None = None, **overrides: object
) -> ContractfitClient:
    return ContractfitClient(config(base_url=base_url, **overrides), retry=policy)


BODY = b'{"page": 1, "results": [1, 2, 3], "pad": "abcdef"}'


def test_a_trickled_body_is_abandoned_at_the_whole_request_deadline() -> None:
    def respond(conn: socket.socket, n: int) -> None:
        conn.sendall(head(len(BODY)))
        for index in range(len(BODY)):  # 50 bytes, one every 0.1 s: 5 s for the body
            if not stop.wait(0.1):
                conn.sendall(BODY[index : index + 1])

    stop = threading.Event()
    policy = RetryPolicy(max_attempts=2, base_seconds=0.1, max_total_seconds=30)
    with RawServer(respond) as server:
        try:
            with real_client(server.base_url, policy, request_timeout_seconds=1) as client:
                started = time.monotonic()
                with pytest.raises(TransientError) as caught:
                    client.get_json("users/me")
                elapsed = time.monotonic() - started
        finally:
            stop.set()
    assert "failed after 2 attempt(s)" in caught.value.message
    assert "timed out (the whole request took over 1s)" in caught.value.message
    # Two attempts of ~1 s (plus one gap of 0.1 s each) and a backoff of < 0.1 s; a body
    # read to its end would take 5 s per attempt. The margin is for a loaded CI machine.
    assert 2.0 <= elapsed < 6.0, elapsed


def test_a_slow_but_whole_answer_within_the_deadline_is_taken() -> None:
    def respond(conn: socket.socket, n: int) -> None:
        conn.sendall(head(len(BODY)))
        for index in range(0, len(BODY), 10):  # 5 pieces, 0.05 s apart
            time.sleep(0.05)
            conn.sendall(BODY[index : index + 10])

    with (
        RawServer(respond) as server,
        real_client(server.base_url, request_timeout_seconds=2) as client,
    ):
        assert client.get_json("users/me")["results"] == [1, 2, 3]
        assert client.stats.retries == 0


def test_the_date_header_of_a_streamed_answer_is_noted() -> None:
    def respond(conn: socket.socket, n: int) -> None:
        conn.sendall(head(2, "Date: Wed, 21 Oct 2015 07:28:00 GMT") + b"[]")

    with RawServer(respond) as server, real_client(server.base_url) as client:
        assert client.get_json("inboxes") == []
        assert client.server_time() == datetime(2015, 10, 21, 7, 28, tzinfo=timezone.utc)


def oversize_message(mb: int) -> str:
    return (
        f"GET /inboxes/x/paginated returned a response larger than {mb} MB (the "
        "'max_response_mb' cap, counted after decompression); refused. Raise "
        "'max_response_mb' if the API really sends that much, or lower 'page_size'."
    )


def page_of(size: int) -> bytes:
    head_, tail = b'{"results":[', b"0]}"
    middle = size - len(head_) - len(tail)
    return head_ + b"0," * (middle // 2) + b" " * (middle % 2) + tail


def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    def respond(conn: socket.socket, n: int) -> None:
        conn.sendall(head(3 * MIB))  # and then nothing: the client must not wait for it

    with RawServer(respond) as server, real_client(server.base_url, max_response_mb=1) as client:
        started = time.monotonic()
        with pytest.raises(ResponseFormatError) as caught:
            client.get_json("inboxes/x/paginated")
        assert time.monotonic() - started < 1
    assert caught.value.message == oversize_message(1)
    assert server.requests == 1  # not retried


def test_a_chunked_body_over_the_cap_is_refused_while_streaming() -> None:
    sent: list[int] = []

    def respond(conn: socket.socket, n: int) -> None:
        conn.sendall(head(None, "Transfer-Encoding: chunked"))
        piece = b"0," * 32768
        for _ in range(512):  # 32 MiB offered; the client hangs up after ~2 MiB
            conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            sent.append(len(piece))
        conn.sendall(b"0\r\n\r\n")

    with (
        RawServer(respond) as server,
        real_client(server.base_url, max_response_mb=2) as client,
        pytest.raises(ResponseFormatError) as caught,
    ):
        client.get_json("inboxes/x/paginated")
    assert caught.value.message == oversize_message(2)
    assert sum(sent) < 32 * MIB  # the sender was cut off: nothing read past the cap


def gzip_bytes(data: bytes, wbits: int = 31) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


def test_a_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = gzip_bytes(page_of(64 * MIB))  # ~64 KB on the wire

    def respond(conn: socket.socket, n: int) -> None:
        conn.sendall(head(len(bomb), "Content-Encoding: gzip") + bomb)

    with RawServer(respond) as server, real_client(server.base_url, max_response_mb=1) as client:
        tracemalloc.start()
        try:
            with pytest.raises(ResponseFormatError) as caught:
                client.get_json("inboxes/x/paginated")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert caught.value.message == oversize_message(1)
    print(f"gzip bomb of 64 MiB, cap 1 MB: traced peak {peak / MIB:.1f} MiB")
    assert peak < 8 * MIB, f"{peak / MIB:.0f} MiB held for a 1 MB cap"
    assert server.requests == 1


@pytest.mark.parametrize(
    ("coding", "wbits"), [("gzip", 31), ("x-gzip", 31), ("deflate", 15), ("deflate", -15)]
)
def test_compressed_bodies_within_the_cap_are_decoded(coding: str, wbits: int) -> None:
    page = page_of(3 * MIB)
    packed = gzip_bytes(page, wbits)

    def respond(conn: socket.socket, n: int) -> None:
        conn.sendall(head(len(packed), f"Content-Encoding: {coding}") + packed)

    with RawServer(respond) as server, real_client(server.base_url, max_response_mb=4) as client:
        body = client.get_json("inboxes/x/paginated")
    assert len(body["results"]) == (3 * MIB - 15) // 2 + 1


def test_a_gzip_body_cut_short_is_retried_then_refused() -> None:
    packed = gzip_bytes(page_of(MIB))[:-100]  # consistent Content-Length, stream incomplete

    def respond(conn: socket.socket, n: int) -> None:
        conn.sendall(head(len(packed), "Content-Encoding: gzip") + packed)

    policy = RetryPolicy(max_attempts=2, base_seconds=0.01)
    with (
        RawServer(respond) as server,
        real_client(server.base_url, policy) as client,
        pytest.raises(ResponseFormatError) as caught,
    ):
        client.get_json("inboxes/x/paginated")
    assert caught.value.message == (
        "GET /inboxes/x/paginated returned a gzip body that ends before its compressed "
        f"stream does ({len(packed)} bytes received)."
    )
    assert server.requests == 2


def test_an_error_answer_with_a_broken_gzip_body_keeps_its_status() -> None:
    def respond(conn: socket.socket, n: int) -> None:
        conn.sendall(head(9, "Content-Encoding: gzip", status="404 Not Found") + b"not gzip!")

    with (
        RawServer(respond) as server,
        real_client(server.base_url) as client,
        pytest.raises(NotFoundError) as caught,
    ):
        client.get_json("documents/x")
    assert "non-JSON body" in caught.value.message and server.requests == 1


# ------------------------------------------------------------------ ids in request paths

HOSTILE_ID = "../x?y#z"


def test_an_id_is_one_percent_encoded_path_segment(caplog: pytest.LogCaptureFixture) -> None:
    from source_contractfit.read.walk import Position, walk_inbox

    seen: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path)
        return json_response(200, {"page": 1, "per_page": 2, "total": 0, "results": []})

    client = ContractfitClient(config(), transport=httpx.MockTransport(answer))
    with caplog.at_level("WARNING", logger="source_contractfit.api.client"):
        assert list(walk_inbox(client, HOSTILE_ID, Position(), 2)) == []
        assert list(walk_inbox(client, "../other", Position(), 2)) == []
        client.get_json(client.path("documents/{doc_id}", doc_id="a/b%2F"))
    assert [p.split(b"?")[0] for p in seen] == [
        b"/api/inboxes/..%2Fx%3Fy%23z/paginated",
        b"/api/inboxes/..%2Fother/paginated",
        b"/api/documents/a%2Fb%252F",
    ]
    assert all(p.startswith(b"/api/") for p in seen)
    assert b"order_by=" in seen[0]  # the query is ours, not cut by the id's '?' or '#'
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    # Once per id kind: the second odd inbox id is not reported again.
    assert len(warnings) == 2
    assert "inbox_id '../x?y#z'" in warnings[0] and "doc_id 'a/b%2F'" in warnings[1]
    client.close()


def test_a_well_formed_id_is_sent_as_is_without_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = ContractfitClient(
        config(), transport=httpx.MockTransport(lambda r: json_response(200, []))
    )
    with caplog.at_level("WARNING"):
        assert client.path("inboxes/{inbox_id}/document_versions", inbox_id="a" * 24) == (
            f"inboxes/{'a' * 24}/document_versions"
        )
    assert caplog.records == []
    client.close()


@pytest.mark.parametrize(
    "raw", ["inboxes/../x/paginated", "inboxes/x?y/paginated", "documents/a#b", "inboxes/./x"]
)
def test_a_path_built_without_encoding_is_refused_before_any_request(raw: str) -> None:
    sent: list[httpx.Request] = []
    client = ContractfitClient(
        config(), transport=httpx.MockTransport(lambda r: sent.append(r) or json_response(200, []))
    )
    with pytest.raises(ValueError, match="unsafe request path"):
        client.get_json(raw)
    assert sent == []
    client.close()
