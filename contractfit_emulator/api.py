"""Handlers of the `/api` endpoints listed in API.md, and their route table.

Each handler takes the emulator core and the parsed request and returns the response
body (a JSON-able object, or pre-serialized bytes for the document endpoints).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from .core import Core
from .directory import Inbox, User
from .errors import ApiError, bad_request, forbidden, not_found
from .params import Query, get_bool, get_date, get_int, get_order, get_version_name
from .stats import (
    VOLUME_STATUSES,
    accuracy_stats,
    blocker_stats,
    evaluated_versions,
    field_stats,
    processing_stats,
    stp_stats,
    usage_rows,
    version_counts,
    volume_stats,
)
from .store import DEFAULT_ORDER
from .tenant import API_VERSION, FIELD_NAMES
from .timeutil import DAY_US

MAX_VERSION_WINDOW_US = 31 * DAY_US
DEFAULT_VERSION_WINDOW_US = 30 * DAY_US


@dataclass(slots=True)
class Request:
    """A parsed API request."""

    method: str
    path: str  # relative to /api
    query: Query
    headers: Any
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    user: User | None = None
    documents: int = 0  # Documents the answer serves (counters and latency)

    @property
    def caller(self) -> User:
        assert self.user is not None
        return self.user


Handler = Callable[[Core, Request], Any]


# ------------------------------------------------------------------ identity & metadata


def post_auth(core: Core, req: Request) -> Any:
    try:
        payload = orjson.loads(req.body or b"{}")
    except orjson.JSONDecodeError:
        raise bad_request("Request body must be JSON") from None
    if not isinstance(payload, dict) or "username" not in payload or "password" not in payload:
        raise bad_request("Missing field: username and password are required")
    token = core.auth.login(payload["username"], payload["password"])
    return {"authentication_token": token}


def get_me(core: Core, req: Request) -> Any:
    return core.directory.user_body(req.caller)


def get_version(core: Core, req: Request) -> Any:
    return {"version": API_VERSION}


def get_projects(core: Core, req: Request) -> Any:
    return core.directory.projects


def get_inboxes(core: Core, req: Request) -> Any:
    directory = core.directory
    return [directory.inbox_body(i) for i in directory.inboxes if req.caller.may_see(i.id)]


def get_inbox(core: Core, req: Request) -> Any:
    inbox_id = req.params["inbox_id"]
    core.auth.require_inbox(req.caller, inbox_id)
    return core.directory.inbox_body(core.directory.inbox_by_id[inbox_id])


def get_users(core: Core, req: Request) -> Any:
    core.auth.require(req.caller, "edit_users")
    return [core.directory.user_body(u) for u in core.directory.users]


def get_roles(core: Core, req: Request) -> Any:
    return core.directory.roles


def get_formats(core: Core, req: Request) -> Any:
    return core.directory.formats


def get_reports(core: Core, req: Request) -> Any:
    core.auth.require(req.caller, "read_reports")
    return core.directory.reports


def get_document_versions(core: Core, req: Request) -> Any:
    inbox_id = req.params["inbox_id"]
    core.auth.require_inbox(req.caller, inbox_id)
    with core.store.lock:
        return version_counts(core.store.facts(inbox_id))


# ------------------------------------------------------------------ documents


def get_paginated(core: Core, req: Request) -> Any:
    inbox_id = req.params["inbox_id"]
    core.auth.require_inbox(req.caller, inbox_id, "view_list")
    query = req.query
    page = get_int(query, "page", 1, 1)
    per_page = get_int(query, "per_page", 20, 1, 100)
    start = get_date(query, "start_receive_date")
    end = get_date(query, "end_receive_date")
    order = get_order(query) or DEFAULT_ORDER
    core.count_page_size(per_page)
    variants = core.variants
    if variants.ignore_order_by:
        order = DEFAULT_ORDER
    served = page
    if variants.repeat_tie_page and start is not None and end is not None and end - start <= 1:
        served = 1
    if variants.repeat_pages:
        served = 1
    with core.store.lock:
        total, parts = core.store.page(inbox_id, start, end, order, served, per_page)
    req.documents = len(parts)
    head = b'{"page":%d,"per_page":%d,"total":%d,"results":[' % (page, per_page, total)
    return b"".join((head, b",".join(parts), b"]}"))


def get_document(core: Core, req: Request) -> Any:
    store = core.store
    with store.lock:
        record = store.get(req.params["document_id"])
        if record is None:
            raise not_found("Document not found")
        core.auth.require_inbox(req.caller, record.spec.inbox.id, "review")
        req.documents = 1
        return store.document_bytes(record)


# ------------------------------------------------------------------ stats


def _window(query: Query) -> tuple[int | None, int | None]:
    return get_date(query, "start_date"), get_date(query, "end_date")


def _stats_inbox(core: Core, req: Request) -> str:
    inbox_id = req.params["inbox_id"]
    core.auth.require_inbox(req.caller, inbox_id, "view_statistics")
    return inbox_id


def _scope_inboxes(core: Core, req: Request) -> list[Inbox]:
    """An inbox id or a project id (all its inboxes); 403 unless all are visible."""
    scope = req.params["scope"]
    directory = core.directory
    if scope in directory.inbox_by_id:
        inboxes = [directory.inbox_by_id[scope]]
    elif scope in directory.project_inboxes:
        inboxes = directory.project_inboxes[scope]
    else:
        raise not_found("Inbox or project not found")
    if not all(req.caller.may_see(i.id) for i in inboxes):
        raise forbidden()
    core.auth.require(req.caller, "view_statistics")
    return inboxes


def _scope_facts(core: Core, inboxes: list[Inbox], start: int | None, end: int | None) -> list:
    facts: list = []
    for inbox in inboxes:
        facts.extend(core.store.facts(inbox.id, start, end))
    return facts


def get_stats(core: Core, req: Request) -> Any:
    inbox_id = _stats_inbox(core, req)
    start, end = _window(req.query)
    version = get_version_name(req.query, "predicted") or "predicted"
    raw_fields = req.query.get("field_name")
    fields: tuple[str, ...] = FIELD_NAMES
    if raw_fields:
        fields = tuple(f.strip() for f in raw_fields.split(",") if f.strip())
        unknown = [f for f in fields if f not in FIELD_NAMES]
        if unknown:
            raise bad_request(f"Unknown field_name: {', '.join(unknown)}")
    with core.store.lock:
        return field_stats(core.store.facts(inbox_id, start, end), version, fields)


def get_accuracy(core: Core, req: Request) -> Any:
    inboxes = _scope_inboxes(core, req)
    start, end = _window(req.query)
    version = get_version_name(req.query, "predicted") or "predicted"
    stp_files = get_bool(req.query, "stp_files_only", False)
    stp_fields = get_bool(req.query, "stp_fields_only", False)
    with core.store.lock:
        facts = _scope_facts(core, inboxes, start, end)
    return accuracy_stats(facts, version, stp_files, stp_fields)


def get_stp(core: Core, req: Request) -> Any:
    inboxes = _scope_inboxes(core, req)
    start, end = _window(req.query)
    version = get_version_name(req.query, "predicted") or "predicted"
    with core.store.lock:
        facts = _scope_facts(core, inboxes, start, end)
    return stp_stats(facts, version)


def get_blockers(core: Core, req: Request) -> Any:
    inbox_id = _stats_inbox(core, req)
    start, end = _window(req.query)
    get_version_name(req.query, "predicted")
    include = get_bool(req.query, "include_detail", False)
    with core.store.lock:
        return blocker_stats(core.store.facts(inbox_id, start, end), include)


def get_processing(core: Core, req: Request) -> Any:
    inbox_id = _stats_inbox(core, req)
    start, end = _window(req.query)
    group_by = req.query.get("group_by") or "pages"
    if group_by != "pages":
        raise bad_request("Not Supported: group_by must be 'pages'")
    with core.store.lock:
        return processing_stats(core.store.facts(inbox_id), start, end)


def get_volume(core: Core, req: Request) -> Any:
    inbox_id = _stats_inbox(core, req)
    start, end = _window(req.query)
    status = req.query.get("status") or "to_review"
    supported = core.variants.volume_statuses or VOLUME_STATUSES
    if status not in supported:
        raise bad_request(f"Not Supported: status must be one of {', '.join(supported)}")
    user = req.query.get("user") or None
    with core.store.lock:
        return volume_stats(core.store.facts(inbox_id, start, end), status, user)


def get_usage(core: Core, req: Request) -> Any:
    start = get_date(req.query, "start_date", required=True)
    end = get_date(req.query, "end_date", required=True)
    inbox_id = req.query.get("inbox_id") or None
    directory = core.directory
    if inbox_id is not None:
        core.auth.require_inbox(req.caller, inbox_id, "view_statistics")
        inboxes = [directory.inbox_by_id[inbox_id]]
    else:
        core.auth.require(req.caller, "view_statistics")
        inboxes = [i for i in directory.inboxes if req.caller.may_see(i.id)]
    with core.store.lock:
        per_inbox = [
            (directory.inbox_body(i), list(core.store.facts(i.id, start, end))) for i in inboxes
        ]
    return usage_rows(per_inbox)


def get_evaluated_versions(core: Core, req: Request) -> Any:
    inbox_id = _stats_inbox(core, req)
    query = req.query
    start, end = _window(query)
    if start is not None and end is not None and end - start > MAX_VERSION_WINDOW_US:
        raise bad_request("The window between start_date and end_date may span at most 31 days")
    if end is None:
        end = core.clock.now()
    if start is None:
        start = end - DEFAULT_VERSION_WINDOW_US
    filter_versions = get_bool(query, "filter_versions", False)
    last_one_only = get_bool(query, "last_one_only", True)
    version = get_version_name(query, None)
    with core.store.lock:
        if filter_versions:
            return evaluated_versions(
                core.store.facts(inbox_id), version, last_one_only, (start, end)
            )
        return evaluated_versions(
            core.store.facts(inbox_id, start, end), version, last_one_only, None
        )


# ------------------------------------------------------------------ routing


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    public: bool = False


def _route(method: str, template: str, handler: Handler, public: bool = False) -> Route:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return Route(method, template, re.compile(f"^{regex}/?$"), handler, public)


ROUTES: tuple[Route, ...] = (
    _route("POST", "/auth", post_auth, public=True),
    _route("GET", "/users/me", get_me),
    _route("GET", "/about/version", get_version),
    _route("GET", "/projects", get_projects),
    _route("GET", "/inboxes", get_inboxes),
    _route("GET", "/inboxes/{inbox_id}", get_inbox),
    _route("GET", "/inboxes/{inbox_id}/document_versions", get_document_versions),
    _route("GET", "/inboxes/{inbox_id}/paginated", get_paginated),
    _route("GET", "/documents/{document_id}", get_document),
    _route("GET", "/users", get_users),
    _route("GET", "/roles", get_roles),
    _route("GET", "/formats", get_formats),
    _route("GET", "/reports", get_reports),
    _route("GET", "/stats/usage", get_usage),
    _route("GET", "/stats/{inbox_id}", get_stats),
    _route("GET", "/stats/{inbox_id}/evaluated_versions", get_evaluated_versions),
    _route("GET", "/stats/{inbox_id}/automation_blockers", get_blockers),
    _route("GET", "/stats/{inbox_id}/processing", get_processing),
    _route("GET", "/stats/{inbox_id}/volume", get_volume),
    _route("GET", "/stats/{scope}/accuracy", get_accuracy),
    _route("GET", "/stats/{scope}/stp", get_stp),
)


def match(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route for a path; 404 for an unknown path, 405 for a known path's other method."""
    other_method = False
    for route in ROUTES:
        found = route.pattern.match(path)
        if found is None:
            continue
        if route.method == method:
            return route, found.groupdict()
        other_method = True
    if other_method:
        raise ApiError(405, f"Method {method} not allowed on {path}")
    raise not_found(f"Not Found: {path}")
