"""The HTTP client against httpx.MockTransport: retries, backoff, re-login, error mapping."""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import orjson
import pytest

from source_contractfit.client import ContractfitClient, RetryPolicy, _retry_after
from source_contractfit.config import ConnectorConfig
from source_contractfit.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    ResponseFormatError,
    TransientError,
)

BASE = "https://cf.example.test/api"
API_KEY = "key-0123456789-secret"
PASSWORD = "pa55-w0rd-secret"


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


def test_html_page_means_wrong_base_url() -> None:
    page = httpx.Response(
        200, content=b"<html>Welcome</html>", headers={"Content-Type": "text/html"}
    )
    h = Harness(scripted(page))
    with pytest.raises(ConfigError) as caught:
        h.client.get_json("users/me")
    assert "does not point at the Contract.fit API" in caught.value.message


def test_invalid_json_is_a_response_format_error() -> None:
    bad = httpx.Response(200, content=b"{not json", headers={"Content-Type": "application/json"})
    h = Harness(scripted(bad))
    with pytest.raises(ResponseFormatError):
        h.client.get_json("users/me")


def test_secret_echoed_by_server_is_masked_in_error() -> None:
    h = Harness(lambda r: json_response(401, {"message": f"bad key {API_KEY}"}))
    with pytest.raises(AuthenticationError) as caught:
        h.client.get_json("users/me")
    assert API_KEY not in caught.value.message
    assert "****" in caught.value.message


def test_iter_pages_stops_on_short_page() -> None:
    pages = [
        json_response(200, {"page": 1, "per_page": 2, "total": 3, "results": [1, 2]}),
        json_response(200, {"page": 2, "per_page": 2, "total": 3, "results": [3]}),
    ]
    h = Harness(scripted(*pages))
    got = [r for body in h.client.iter_pages("x", per_page=2) for r in body["results"]]
    assert got == [1, 2, 3]
    assert [req.url.params["page"] for req in h.requests] == ["1", "2"]


@pytest.mark.parametrize(
    ("value", "expected"), [("5", 5.0), ("0", 0.0), ("junk", None), (None, None)]
)
def test_retry_after_parsing(value: str | None, expected: float | None) -> None:
    assert _retry_after(value) == expected


def test_retry_after_http_date_in_the_past_is_zero() -> None:
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
