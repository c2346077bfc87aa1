"""Test controls under `/_control` (no auth), and `EmulatorControl`, a client for them.

Controls mutate the tenant the way real life does between two syncs: documents
arrive, get reviewed, reprocessed or deleted, time passes, tokens expire, and the
network misbehaves.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from .core import Latency
from .errors import ApiError, bad_request, not_found
from .faults import ChurnConfig, FaultConfig, parse_kinds
from .stats import ground_truth
from .timeutil import DateParseError, format_us, parse_us
from .variants import FUTURE_RECEIVE_TIME, parse_variants

if TYPE_CHECKING:
    from .core import Core

Body = dict[str, Any]


# ------------------------------------------------------------------ server side


def handle(
    core: Core, method: str, path: str, query: dict[str, str], raw: bytes
) -> tuple[int, bytes]:
    """Dispatch a control request; returns (status, JSON body)."""
    path = path.rstrip("/") or "/"
    handler = _HANDLERS.get((method, path))
    try:
        if handler is None:
            raise not_found(f"Unknown control endpoint: {method} /_control{path}")
        body = _json_body(raw) if method == "POST" else {}
        return 200, orjson.dumps(handler(core, body, query))
    except ApiError as exc:
        return exc.status, orjson.dumps({"message": exc.message})
    except (ValueError, TypeError, KeyError) as exc:
        return 400, orjson.dumps({"message": f"Bad control request: {exc}"})


def _json_body(raw: bytes) -> Body:
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("Control body must be a JSON object") from None
    if not isinstance(body, dict):
        raise bad_request("Control body must be a JSON object")
    return body


def _inbox(core: Core, inbox_id: Any, default_first: bool = True) -> str | None:
    if inbox_id is None:
        return core.directory.inboxes[0].id if default_first else None
    if inbox_id not in core.store.inboxes:
        raise not_found(f"Unknown inbox: {inbox_id}")
    return str(inbox_id)


def _time(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return parse_us(str(value))
    except DateParseError:
        raise bad_request(f"Invalid date: {value!r}") from None


def _targets(core: Core, body: Body, unreviewed: bool = False) -> list[str]:
    """Explicit `document_ids`, else `count` documents picked in `inbox_id` (or anywhere)."""
    if "document_ids" in body:
        ids = body["document_ids"]
        if not isinstance(ids, list):
            raise bad_request("document_ids must be a list")
        return [str(i) for i in ids]
    count = int(body.get("count", 1))
    if count < 0:
        raise bad_request("count must be >= 0")
    inbox_id = _inbox(core, body.get("inbox_id"), default_first=False)
    return core.store.pick(inbox_id, count, unreviewed=unreviewed)


def state(core: Core, body: Body, query: dict[str, str]) -> Body:
    directory = core.directory
    with core.store.lock:
        inboxes = [
            {
                "id": i.id,
                "name": i.name,
                "project": i.project,
                "threshold": i.threshold,
                "documents": len(core.store.inboxes[i.id].keys),
            }
            for i in directory.inboxes
        ]
    users = {}
    for role, user in (("admin", directory.admin), ("viewer", directory.viewer)):
        users[role] = {
            "id": user.id,
            "username": user.username,
            "password": user.password,
            "api_key": user.api_key,
            "inboxes": list(user.inboxes) if user.inboxes is not None else None,
        }
    return {
        "now": format_us(core.clock.now()),
        "start": format_us(core.clock.start_us),
        "seed": core.seed,
        "projects": [{"id": p["id"], "name": p["name"]} for p in directory.projects],
        "inboxes": inboxes,
        "users": users,
        "faults": core.faults.config.body(),
        "churn": core.churn.body(),
        "variants": core.variants.body(),
    }


def arrive(core: Core, body: Body, query: dict[str, str]) -> Body:
    inbox_id = _inbox(core, body.get("inbox_id"))
    assert inbox_id is not None
    count = int(body.get("count", 1))
    if count < 0 or count > 100_000:
        raise bad_request("count must be between 0 and 100000")
    when = _time(body.get("receive_time"))
    with core.store.lock:
        if when is None:
            when = core.clock.now()
        ids = core.store.arrive(inbox_id, count, when)
    return {"document_ids": ids, "inbox_id": inbox_id, "receive_time": format_us(when)}


def review(core: Core, body: Body, query: dict[str, str]) -> Body:
    with core.store.lock:
        targets = _targets(core, body, unreviewed=True)
        ids = core.store.review(targets, careful=bool(body.get("careful", True)))
    return {"document_ids": ids, "now": format_us(core.clock.now())}


def reprocess(core: Core, body: Body, query: dict[str, str]) -> Body:
    name = str(body.get("name", "reprocessed"))
    with core.store.lock:
        ids = core.store.reprocess(_targets(core, body), name)
    return {"document_ids": ids}


def delete(core: Core, body: Body, query: dict[str, str]) -> Body:
    with core.store.lock:
        ids = core.store.delete(_targets(core, body))
    return {"document_ids": ids}


def clock(core: Core, body: Body, query: dict[str, str]) -> Body:
    seconds = float(body.get("advance_seconds", 0))
    if seconds < 0:
        raise bad_request("advance_seconds must be >= 0 (the clock never goes back)")
    return {"now": format_us(core.clock.advance(seconds))}


def faults(core: Core, body: Body, query: dict[str, str]) -> Body:
    current = core.faults.config
    paths = body.get("paths", None)
    if paths is not None and (
        not isinstance(paths, list) or not all(isinstance(p, str) for p in paths)
    ):
        raise bad_request("paths must be a list of path prefixes under /api")
    config = FaultConfig(
        rate=float(body.get("rate", current.rate)),
        kinds=parse_kinds(body["kinds"]) if "kinds" in body else current.kinds,
        seed=int(body.get("seed", current.seed)),
        retry_after=int(body.get("retry_after", current.retry_after)),
        slow_seconds=float(body.get("slow_seconds", current.slow_seconds)),
        paths=tuple(p if p.startswith("/") else "/" + p for p in paths) if paths else None,
        oversize_mb=int(body.get("oversize_mb", current.oversize_mb)),
        bomb_mb=int(body.get("bomb_mb", current.bomb_mb)),
    )
    if not 0.0 <= config.rate <= 1.0:
        raise bad_request("rate must be within [0, 1]")
    if config.oversize_mb < 1 or config.bomb_mb < 1:
        raise bad_request("oversize_mb and bomb_mb must be >= 1")
    core.faults.configure(config)
    return {"faults": config.body()}


def variants(core: Core, body: Body, query: dict[str, str]) -> Body:
    """Switch variants at run time (`future_document` adds its document when switched on)."""
    before = core.variants
    core.variants = parse_variants(body, before)
    if core.variants.future_document and not before.future_document:
        with core.store.lock:
            core.store.arrive(core.directory.inboxes[0].id, 1, parse_us(FUTURE_RECEIVE_TIME))
    return {"variants": core.variants.body()}


def get_variants(core: Core, body: Body, query: dict[str, str]) -> Body:
    return {"variants": core.variants.body()}


def get_faults(core: Core, body: Body, query: dict[str, str]) -> Body:
    return {"faults": core.faults.config.body()}


def churn(core: Core, body: Body, query: dict[str, str]) -> Body:
    every = int(body.get("every", 0))
    if every < 0:
        raise bad_request("every must be >= 0")
    inbox_id = body.get("inbox_id")
    if inbox_id is not None:
        _inbox(core, inbox_id)
    config = ChurnConfig(
        path_contains=str(body.get("path_contains", "/paginated")),
        every=every,
        arrive=int(body.get("arrive", 0)),
        delete=int(body.get("delete", 0)),
        review=int(body.get("review", 0)),
        inbox_id=inbox_id,
    )
    with core.store.lock:
        core.churn = config
    return {"churn": config.body()}


def expire_tokens(core: Core, body: Body, query: dict[str, str]) -> Body:
    return {"expired": core.auth.expire_tokens()}


def revoke_key(core: Core, body: Body, query: dict[str, str]) -> Body:
    key = body.get("api_key")
    if not isinstance(key, str) or not core.auth.revoke_key(key):
        raise not_found("Unknown API key")
    return {"revoked": key}


def requests(core: Core, body: Body, query: dict[str, str]) -> Body:
    counts = core.counts()
    total = sum(n for statuses in counts.values() for n in statuses.values())
    return {
        "total": total,
        "requests": counts,
        "documents_served": core.documents_served,
        "paginated_per_page": core.page_size_counts(),
    }


def latency(core: Core, body: Body, query: dict[str, str]) -> Body:
    """Set the per-request and per-Document delays (milliseconds); absent keys keep theirs."""
    current = core.latency
    core.latency = Latency(
        float(body.get("per_request_ms", current.per_request_ms)),
        float(body.get("per_document_ms", current.per_document_ms)),
    )
    return get_latency(core, body, query)


def get_latency(core: Core, body: Body, query: dict[str, str]) -> Body:
    return {
        "per_request_ms": core.latency.per_request_ms,
        "per_document_ms": core.latency.per_document_ms,
    }


def reset_requests(core: Core, body: Body, query: dict[str, str]) -> Body:
    core.reset_counts()
    return {"reset": True}


def truth(core: Core, body: Body, query: dict[str, str]) -> Body:
    inbox_id = _inbox(core, query.get("inbox_id") or None, default_first=False)
    version = query.get("version_name") or "predicted"
    start = _time(query.get("start_date") or None)
    end = _time(query.get("end_date") or None)
    inbox_ids = [inbox_id] if inbox_id else [i.id for i in core.directory.inboxes]
    with core.store.lock:
        per_inbox = {i: list(core.store.facts(i, start, end)) for i in inbox_ids}
    return {
        "version_name": version,
        "inboxes": {i: ground_truth(facts, version) for i, facts in per_inbox.items()},
    }


def documents(core: Core, body: Body, query: dict[str, str]) -> Body:
    inbox_id = _inbox(core, query.get("inbox_id") or None, default_first=False)
    inbox_ids = [inbox_id] if inbox_id else [i.id for i in core.directory.inboxes]
    store = core.store
    with store.lock:
        docs = [
            store.document(store.records[doc_id]) for i in inbox_ids for doc_id in store.live_ids(i)
        ]
    return {"documents": docs}


_HANDLERS: dict[tuple[str, str], Callable[[Core, Body, dict[str, str]], Body]] = {
    ("GET", "/state"): state,
    ("GET", "/latency"): get_latency,
    ("POST", "/latency"): latency,
    ("POST", "/arrive"): arrive,
    ("POST", "/review"): review,
    ("POST", "/reprocess"): reprocess,
    ("POST", "/delete"): delete,
    ("POST", "/clock"): clock,
    ("GET", "/faults"): get_faults,
    ("GET", "/variants"): get_variants,
    ("POST", "/variants"): variants,
    ("POST", "/faults"): faults,
    ("POST", "/churn"): churn,
    ("POST", "/tokens/expire"): expire_tokens,
    ("POST", "/api_keys/revoke"): revoke_key,
    ("GET", "/requests"): requests,
    ("POST", "/requests/reset"): reset_requests,
    ("GET", "/truth"): truth,
    ("GET", "/documents"): documents,
}


# ------------------------------------------------------------------ client side


class ControlError(RuntimeError):
    """A control request failed; carries the HTTP status and the server's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class EmulatorControl:
    """Client of `/_control` for tests (standard library only, one request per call)."""

    def __init__(self, control_url: str, timeout: float = 60.0) -> None:
        self.control_url = control_url.rstrip("/")
        self.timeout = timeout

    def _call(
        self, method: str, path: str, body: Body | None = None, query: dict[str, Any] | None = None
    ) -> Any:
        url = self.control_url + path
        if query:
            clean = {k: v for k, v in query.items() if v is not None}
            if clean:
                url += "?" + urllib.parse.urlencode(clean)
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            try:
                message = json.loads(payload).get("message", "")
            except ValueError:
                message = payload.decode("utf-8", "replace")
            raise ControlError(exc.code, message) from None

    @staticmethod
    def _clean(**kwargs: Any) -> Body:
        return {k: v for k, v in kwargs.items() if v is not None}

    def state(self) -> Body:
        return self._call("GET", "/state")

    def inbox_ids(self) -> list[str]:
        return [i["id"] for i in self.state()["inboxes"]]

    def arrive(
        self, count: int = 1, inbox_id: str | None = None, receive_time: str | None = None
    ) -> list[str]:
        body = self._clean(count=count, inbox_id=inbox_id, receive_time=receive_time)
        return self._call("POST", "/arrive", body)["document_ids"]

    def review(
        self,
        document_ids: list[str] | None = None,
        count: int | None = None,
        inbox_id: str | None = None,
        careful: bool = True,
    ) -> list[str]:
        body = self._clean(
            document_ids=document_ids, count=count, inbox_id=inbox_id, careful=careful
        )
        return self._call("POST", "/review", body)["document_ids"]

    def reprocess(
        self,
        document_ids: list[str] | None = None,
        count: int | None = None,
        inbox_id: str | None = None,
        name: str = "reprocessed",
    ) -> list[str]:
        body = self._clean(document_ids=document_ids, count=count, inbox_id=inbox_id, name=name)
        return self._call("POST", "/reprocess", body)["document_ids"]

    def delete(
        self,
        document_ids: list[str] | None = None,
        count: int | None = None,
        inbox_id: str | None = None,
    ) -> list[str]:
        body = self._clean(document_ids=document_ids, count=count, inbox_id=inbox_id)
        return self._call("POST", "/delete", body)["document_ids"]

    def advance(self, seconds: float) -> str:
        """Move the virtual clock forward; returns the new `now`."""
        return self._call("POST", "/clock", {"advance_seconds": seconds})["now"]

    def faults(
        self,
        rate: float,
        kinds: list[str] | None = None,
        seed: int | None = None,
        retry_after: int | None = None,
        slow_seconds: float | None = None,
        paths: list[str] | None = None,
        oversize_mb: int | None = None,
        bomb_mb: int | None = None,
    ) -> Body:
        body = self._clean(
            rate=rate,
            kinds=kinds,
            seed=seed,
            retry_after=retry_after,
            slow_seconds=slow_seconds,
            paths=paths,
            oversize_mb=oversize_mb,
            bomb_mb=bomb_mb,
        )
        return self._call("POST", "/faults", body)["faults"]

    def variants(self, **switches: Any) -> Body:
        """Switch variants on or off, e.g. `variants(ignore_order_by=True)`."""
        return self._call("POST", "/variants", switches)["variants"]

    def latency(self, per_request_ms: float = 0.0, per_document_ms: float = 0.0) -> Body:
        """Delay every answer by `per_request_ms` plus `per_document_ms` per Document."""
        body = {"per_request_ms": per_request_ms, "per_document_ms": per_document_ms}
        return self._call("POST", "/latency", body)

    def documents_served(self) -> int:
        """Documents served in 200 answers since the counters were last reset."""
        return int(self.requests()["documents_served"])

    def faults_off(self) -> Body:
        return self.faults(0.0)

    def churn(
        self,
        every: int,
        arrive: int = 0,
        delete: int = 0,
        review: int = 0,
        path_contains: str = "/paginated",
        inbox_id: str | None = None,
    ) -> Body:
        body = self._clean(
            every=every,
            arrive=arrive,
            delete=delete,
            review=review,
            path_contains=path_contains,
            inbox_id=inbox_id,
        )
        return self._call("POST", "/churn", body)["churn"]

    def churn_off(self) -> Body:
        return self.churn(0)

    def expire_tokens(self) -> int:
        return self._call("POST", "/tokens/expire", {})["expired"]

    def revoke_api_key(self, api_key: str) -> None:
        self._call("POST", "/api_keys/revoke", {"api_key": api_key})

    def requests(self) -> Body:
        return self._call("GET", "/requests")

    def request_count(self, method: str, template: str, status: str | None = None) -> int:
        """Requests seen for `METHOD /template` (path relative to /api), optionally by status."""
        statuses = self.requests()["requests"].get(f"{method} {template}", {})
        if status is not None:
            return statuses.get(str(status), 0)
        return sum(statuses.values())

    def reset_requests(self) -> None:
        self._call("POST", "/requests/reset", {})

    def truth(
        self,
        inbox_id: str | None = None,
        version_name: str = "predicted",
        start_date: str | None = None,
        end_date: str | None = None,
    ) -> Body:
        query = {
            "inbox_id": inbox_id,
            "version_name": version_name,
            "start_date": start_date,
            "end_date": end_date,
        }
        return self._call("GET", "/truth", query=query)

    def documents(self, inbox_id: str | None = None) -> list[Body]:
        return self._call("GET", "/documents", query={"inbox_id": inbox_id})["documents"]
