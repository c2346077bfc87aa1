"""Fault injection: every kind is observable from a client; controls stay unaffected."""

from __future__ import annotations

import http.client
import time
from urllib.parse import urlsplit

import httpx
import pytest

from contractfit_emulator import ADMIN_API_KEY, Emulator


def raw_get(emulator: Emulator, path: str) -> http.client.HTTPResponse:
    parts = urlsplit(emulator.base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("GET", parts.path + path, headers={"X-API-Key": ADMIN_API_KEY})
    return conn.getresponse()


@pytest.mark.parametrize("kind", ["429", "500", "502", "503", "504"])
def test_error_statuses(emulator: Emulator, client: httpx.Client, kind: str) -> None:
    emulator.control.faults(rate=1.0, kinds=[kind], retry_after=3)
    response = client.get("/inboxes")
    assert response.status_code == int(kind)
    assert set(response.json()) == {"message"}
    if kind in ("429", "503"):
        assert response.headers["retry-after"] == "3"
    else:
        assert "retry-after" not in response.headers
    assert emulator.control.request_count("GET", "/inboxes", kind) == 1


def test_drop_closes_without_response(emulator: Emulator) -> None:
    emulator.control.faults(rate=1.0, kinds=["drop"])
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        raw_get(emulator, "/inboxes")
    assert emulator.control.request_count("GET", "/inboxes", "drop") == 1


def test_truncate_sends_half_the_body(emulator: Emulator) -> None:
    emulator.control.faults(rate=1.0, kinds=["truncate"])
    inbox = emulator.inbox_ids[0]
    response = raw_get(emulator, f"/inboxes/{inbox}/paginated?per_page=50")
    assert response.status == 200
    announced = int(response.getheader("Content-Length"))
    with pytest.raises(http.client.IncompleteRead) as info:
        response.read()
    assert len(info.value.partial) == announced // 2


def test_slow_answers_late_but_correctly(emulator: Emulator, client: httpx.Client) -> None:
    emulator.control.faults(rate=1.0, kinds=["slow"], slow_seconds=0.4)
    started = time.monotonic()
    response = client.get("/about/version")
    assert time.monotonic() - started >= 0.4
    assert response.json() == {"version": "4.12.0"}


def test_faults_hit_only_api_and_matching_paths(emulator: Emulator, client: httpx.Client) -> None:
    emulator.control.faults(rate=1.0, kinds=["500"], paths=["/inboxes"])
    assert client.get("/inboxes").status_code == 500
    assert client.get("/about/version").status_code == 200
    assert emulator.control.state()["faults"]["rate"] == 1.0  # control plane unaffected
    emulator.control.faults_off()
    assert client.get("/inboxes").status_code == 200


def test_fault_rate_is_seeded(emulator: Emulator, client: httpx.Client) -> None:
    def sequence() -> list[int]:
        emulator.control.faults(rate=0.3, kinds=["500", "503"], seed=5)
        return [client.get("/about/version").status_code for _ in range(40)]

    first = sequence()
    assert first == sequence()
    assert 200 in first and (500 in first or 503 in first)


def test_request_counters(emulator: Emulator, client: httpx.Client) -> None:
    emulator.control.reset_requests()
    inbox = emulator.inbox_ids[0]
    for page in (1, 2, 3):
        client.get(f"/inboxes/{inbox}/paginated", params={"page": page})
    client.get("/inboxes/0123456789abcdef01234567/paginated")
    counts = emulator.control.requests()
    assert counts["requests"]["GET /inboxes/{inbox_id}/paginated"] == {"200": 3, "404": 1}
    assert counts["total"] == 4
    emulator.control.reset_requests()
    assert emulator.control.requests()["total"] == 0


def test_control_errors(emulator: Emulator) -> None:
    from contractfit_emulator import ControlError

    with pytest.raises(ControlError) as info:
        emulator.control.faults(rate=0.5, kinds=["teapot"])
    assert info.value.status == 400
    with pytest.raises(ControlError):
        emulator.control.advance(-5)
    response = httpx.get(f"{emulator.control_url}/nope")
    assert response.status_code == 404
