"""Tenant objects (projects, inboxes, formats, roles, users, reports) with seeded ids.

Ids derive from the seed so that two runs with the same seed agree byte for byte;
the bodies follow the openapi models `ProjectModelPost`, `InboxModelGet`,
`FormatModelGet`, `RoleModelGet`, `UserModelGet` and `ReportModelGet`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from . import tenant
from .timeutil import DAY_US, format_us


def object_id(seed: int, *parts: object) -> str:
    """Deterministic 24-hex id for a named tenant object."""
    text = ":".join(str(p) for p in (seed, *parts))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(slots=True)
class Inbox:
    """One inbox: its id, display name, project and flagging threshold."""

    position: int
    id: str
    name: str
    project: str
    threshold: int


@dataclass(slots=True)
class User:
    """A tenant user; `password`/`api_key` are None for users who cannot log in."""

    id: str
    username: str
    password: str | None
    api_key: str | None
    role_key: str
    inboxes: tuple[str, ...] | None  # None: tenant-wide role
    confirmed_us: int

    def may_see(self, inbox_id: str) -> bool:
        """Whether the user's roles cover this inbox."""
        return self.inboxes is None or inbox_id in self.inboxes


@dataclass(slots=True)
class Directory:
    """Everything about the tenant except the documents."""

    seed: int
    projects: list[dict[str, Any]]
    inboxes: list[Inbox]
    formats: list[dict[str, Any]]
    roles: list[dict[str, Any]]
    role_ids: dict[str, str]
    users: list[User]
    reviewers: list[User]
    reports: list[dict[str, Any]]
    inbox_by_id: dict[str, Inbox] = field(default_factory=dict)
    project_inboxes: dict[str, list[Inbox]] = field(default_factory=dict)

    @property
    def admin(self) -> User:
        return self.users[0]

    @property
    def viewer(self) -> User:
        return self.users[1]

    def role_permissions(self, user: User) -> frozenset[str]:
        """Permissions granted by the user's role."""
        for key, _name, perms in tenant.ROLE_DEFS:
            if key == user.role_key:
                return perms
        return frozenset()

    def user_body(self, user: User) -> dict[str, Any]:
        """`UserModelGet` of a user."""
        role_id = self.role_ids[user.role_key]
        if user.inboxes is None:
            roles = [{"role": role_id, "inbox": None, "document_id": None}]
        else:
            roles = [{"role": role_id, "inbox": i, "document_id": None} for i in user.inboxes]
        return {
            "id": user.id,
            "username": user.username,
            "active": True,
            "confirmed_at": format_us(user.confirmed_us),
            "roles": roles,
        }

    def inbox_body(self, inbox: Inbox) -> dict[str, Any]:
        """`InboxModelGet` of an inbox."""
        return {"id": inbox.id, "name": inbox.name, "project": inbox.project}


def _label(f: tenant.FieldDef) -> dict[str, Any]:
    return {
        "field_name": f.name,
        "display_name": f.name.replace("_", " ").capitalize(),
        "type": f.type,
        "category": "annotation",
        "mandatory": f.mandatory,
        "multiple": f.multiple,
        "scope": "section",
        "visible": True,
        "count_in_evaluation": True,
        "initialized": True,
        "is_library": False,
    }


def build_directory(seed: int, inbox_count: int, start_us: int) -> Directory:
    """Create the tenant for a seed; `start_us` dates the users' confirmation."""
    formats = []
    for i, (name, doc_types) in enumerate(tenant.FORMAT_DEFS):
        formats.append(
            {
                "id": object_id(seed, "format", i),
                "name": name,
                "document_types": [
                    {"field_name": t, "display_name": t.replace("_", " ").title()}
                    for t in doc_types
                ],
                "labels": [_label(f) for f in tenant.FIELDS],
                "separators": [],
                "table_types": [
                    {
                        "label": tenant.LINE_TABLE,
                        "collapsed": False,
                        "contains_line_items": True,
                        "initialized": True,
                        "scope": "section",
                        "columns": [
                            {
                                "field_name": c,
                                "display_name": c.replace("_", " ").capitalize(),
                                "type": t,
                                "category": "annotation",
                                "mandatory": False,
                                "multiple": False,
                                "scope": "section",
                                "visible": True,
                                "count_in_evaluation": True,
                                "initialized": True,
                                "is_library": False,
                            }
                            for c, t in tenant.LINE_COLUMNS
                        ],
                    }
                ],
            }
        )
    format_ids = [f["id"] for f in formats]
    projects: list[dict[str, Any]] = []
    project_ids = [object_id(seed, "project", i) for i in range(len(tenant.PROJECT_NAMES))]
    for i, name in enumerate(tenant.PROJECT_NAMES):
        projects.append(
            {
                "id": project_ids[i],
                "name": name,
                "formats": format_ids if i == 0 else [format_ids[0], format_ids[2]],
                "default_document_type": "invoice",
                "default_format": format_ids[0],
                "split_into_sections": True,
                "sub_page_splitting": False,
                "timeout": 10 + 5 * i,
            }
        )
    inboxes = []
    for i in range(inbox_count):
        base_name = tenant.INBOX_NAMES[i % len(tenant.INBOX_NAMES)]
        name = base_name if i < len(tenant.INBOX_NAMES) else f"{base_name} #{i + 1}"
        inboxes.append(
            Inbox(
                position=i,
                id=object_id(seed, "inbox", i),
                name=name,
                project=project_ids[i % len(project_ids)],
                threshold=tenant.INBOX_THRESHOLDS[i % len(tenant.INBOX_THRESHOLDS)],
            )
        )
    role_ids = {key: object_id(seed, "role", key) for key, _n, _p in tenant.ROLE_DEFS}
    roles = [
        {
            "id": role_ids[key],
            "name": name,
            "permissions": {p: p in perms for p in tenant.PERMISSIONS},
        }
        for key, name, perms in tenant.ROLE_DEFS
    ]
    confirmed = start_us - 400 * DAY_US
    users = [
        User(
            object_id(seed, "user", "admin"),
            tenant.ADMIN_USERNAME,
            tenant.ADMIN_PASSWORD,
            tenant.ADMIN_API_KEY,
            "admin",
            None,
            confirmed,
        ),
        User(
            object_id(seed, "user", "viewer"),
            tenant.VIEWER_USERNAME,
            tenant.VIEWER_PASSWORD,
            tenant.VIEWER_API_KEY,
            "viewer",
            (inboxes[0].id,) if inboxes else (),
            confirmed + 30 * DAY_US,
        ),
    ]
    reviewers = [
        User(
            object_id(seed, "user", name),
            name,
            None,
            None,
            "reviewer",
            tuple(i.id for i in inboxes),
            confirmed + (60 + 7 * k) * DAY_US,
        )
        for k, name in enumerate(tenant.REVIEWERS)
    ]
    users.extend(reviewers)
    reports = [
        _report(seed, 0, "Monthly accuracy", [i.id for i in inboxes], [], "predicted"),
        _report(seed, 1, "Automation blockers per project", [], [projects[0]["id"]], "predicted"),
    ]
    directory = Directory(
        seed, projects, inboxes, formats, roles, role_ids, users, reviewers, reports
    )
    directory.inbox_by_id = {i.id: i for i in inboxes}
    directory.project_inboxes = {
        p["id"]: [i for i in inboxes if i.project == p["id"]] for p in projects
    }
    return directory


def _report(
    seed: int, k: int, name: str, inboxes: list[str], projects: list[str], version: str
) -> dict[str, Any]:
    include = {"include": True}
    return {
        "id": object_id(seed, "report", k),
        "name": name,
        "inboxes": inboxes,
        "projects": projects,
        "documents": [],
        "version_name": version,
        "sources": ["human", "machine"],
        "separator": "|",
        "annotations": {"include": True, "add_text": False},
        "automation_blockers": include,
        "automation_score": include,
        "automation_what_if": {"include": False},
        "cover": include,
        "elapse_time": {"include": False},
        "evaluations": {"include": True, "additional_column": None},
        "field_automation": include,
        "lines": {"include": k == 0},
        "metadata": {
            "include": False,
            "columns": [],
            "rename": {},
            "fields": {"annotations": [], "lines": [], "meta_information": []},
        },
        "page_classification": {"include": False},
        "sections": include,
        "text": {"include": False},
    }
