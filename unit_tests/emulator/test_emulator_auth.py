"""Authentication (Basic, JWT, API key), 401/403/404 bodies and the viewer's scope."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from contractfit_emulator import (
    ADMIN_API_KEY,
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    VIEWER_API_KEY,
    VIEWER_PASSWORD,
    VIEWER_USERNAME,
    Emulator,
)

DENIED = {"message": "Permission insufficient"}


def login(
    base_url: str, username: str = ADMIN_USERNAME, password: str = ADMIN_PASSWORD
) -> httpx.Response:
    return httpx.post(f"{base_url}/auth", json={"username": username, "password": password})


def test_basic_auth(shared_emulator: Emulator) -> None:
    url = f"{shared_emulator.base_url}/users/me"
    me = httpx.get(url, auth=(ADMIN_USERNAME, ADMIN_PASSWORD))
    assert me.status_code == 200
    assert me.headers["content-type"] == "application/json"
    body = me.json()
    assert body["username"] == ADMIN_USERNAME
    assert set(body) == {"id", "username", "active", "confirmed_at", "roles"}
    wrong = httpx.get(url, auth=(ADMIN_USERNAME, "nope"))
    assert wrong.status_code == 401
    assert set(wrong.json()) == {"message"}
    garbage = httpx.get(url, headers={"Authorization": "Basic %%%"})
    assert garbage.status_code == 401


def test_missing_credentials(shared_emulator: Emulator) -> None:
    response = httpx.get(f"{shared_emulator.base_url}/inboxes")
    assert response.status_code == 401
    assert response.json() == {"message": "Missing credentials"}
    other = httpx.get(
        f"{shared_emulator.base_url}/inboxes", headers={"Authorization": "Digest abc"}
    )
    assert other.status_code == 401


def test_jwt_login_and_use(shared_emulator: Emulator) -> None:
    response = login(shared_emulator.base_url)
    assert response.status_code == 200
    token = response.json()["authentication_token"]
    header, payload, _signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert json.loads(base64.urlsafe_b64decode(header + "==="))["alg"] == "HS256"
    assert claims["exp"] - claims["iat"] == 900
    me = httpx.get(
        f"{shared_emulator.base_url}/users/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert me.json()["username"] == ADMIN_USERNAME
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    bad = httpx.get(
        f"{shared_emulator.base_url}/users/me", headers={"Authorization": f"Bearer {tampered}"}
    )
    assert bad.status_code == 401


def test_jwt_wrong_credentials(shared_emulator: Emulator) -> None:
    response = login(shared_emulator.base_url, password="wrong")
    assert response.status_code == 401
    assert set(response.json()) == {"message"}
    malformed = httpx.post(f"{shared_emulator.base_url}/auth", content=b"not json")
    assert malformed.status_code == 400


def test_jwt_expires_with_the_virtual_clock(emulator: Emulator) -> None:
    token = login(emulator.base_url).json()["authentication_token"]
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{emulator.base_url}/inboxes"
    assert httpx.get(url, headers=headers).status_code == 200
    emulator.control.advance(61)  # lifetime of the fixture is 60 s
    expired = httpx.get(url, headers=headers)
    assert expired.status_code == 401
    assert "expired" in expired.json()["message"]
    fresh = login(emulator.base_url).json()["authentication_token"]
    assert httpx.get(url, headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_jwt_revoked_by_control(emulator: Emulator) -> None:
    token = login(emulator.base_url).json()["authentication_token"]
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{emulator.base_url}/inboxes"
    assert emulator.control.expire_tokens() >= 1
    revoked = httpx.get(url, headers=headers)
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["message"]
    fresh = login(emulator.base_url).json()["authentication_token"]
    assert httpx.get(url, headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_api_key_header_and_query(shared_emulator: Emulator) -> None:
    url = f"{shared_emulator.base_url}/inboxes"
    assert httpx.get(url, headers={"X-API-Key": ADMIN_API_KEY}).status_code == 200
    assert httpx.get(url, params={"api_key": ADMIN_API_KEY}).status_code == 200
    wrong = httpx.get(url, headers={"X-API-Key": "cf_nope"})
    assert wrong.status_code == 401 and set(wrong.json()) == {"message"}


def test_revoked_api_key(emulator: Emulator) -> None:
    url = f"{emulator.base_url}/inboxes"
    emulator.control.revoke_api_key(VIEWER_API_KEY)
    response = httpx.get(url, headers={"X-API-Key": VIEWER_API_KEY})
    assert response.status_code == 401
    assert "revoked" in response.json()["message"]
    assert httpx.get(url, headers={"X-API-Key": ADMIN_API_KEY}).status_code == 200
    assert httpx.get(url, auth=(VIEWER_USERNAME, VIEWER_PASSWORD)).status_code == 200


def test_viewer_sees_only_the_first_inbox(
    shared_emulator: Emulator, viewer: httpx.Client, admin: httpx.Client
) -> None:
    first, second = shared_emulator.inbox_ids[:2]
    assert [i["id"] for i in viewer.get("/inboxes").json()] == [first]
    assert len(admin.get("/inboxes").json()) == 3
    assert viewer.get(f"/inboxes/{first}/paginated").status_code == 200
    denied = [
        f"/inboxes/{second}/paginated",
        f"/inboxes/{second}/document_versions",
        f"/stats/{second}",
        f"/stats/{second}/evaluated_versions",
        f"/stats/{second}/automation_blockers",
        f"/stats/{second}/processing",
        f"/stats/{second}/volume",
        f"/stats/{second}/accuracy",
        f"/stats/{second}/stp",
        "/users",
    ]
    for path in denied:
        response = viewer.get(path)
        assert response.status_code == 403, path
        assert response.json() == DENIED
    other_doc = admin.get(f"/inboxes/{second}/paginated", params={"per_page": 1}).json()
    doc_id = other_doc["results"][0]["id"]
    assert viewer.get(f"/documents/{doc_id}").json() == DENIED
    usage = viewer.get(
        "/stats/usage", params={"start_date": "2025-01-01", "end_date": "2026-01-02"}
    ).json()
    assert {row["inbox_id"] for row in usage} == {first}
    assert (
        viewer.get(
            "/stats/usage",
            params={"start_date": "2025-01-01", "end_date": "2026-01-02", "inbox_id": second},
        ).json()
        == DENIED
    )


def test_viewer_denied_on_a_project_spanning_other_inboxes(
    admin: httpx.Client, viewer: httpx.Client
) -> None:
    project = admin.get("/projects").json()[0]["id"]
    assert viewer.get(f"/stats/{project}/stp").json() == DENIED


@pytest.mark.parametrize(
    "path",
    ["/inboxes/{x}/paginated", "/stats/{x}", "/stats/{x}/volume", "/inboxes/{x}/document_versions"],
)
def test_unknown_inbox_is_404(admin: httpx.Client, path: str) -> None:
    response = admin.get(path.format(x="0123456789abcdef01234567"))
    assert response.status_code == 404
    assert response.json() == {"message": "Inbox not found"}


def test_unknown_document_and_path(admin: httpx.Client) -> None:
    response = admin.get("/documents/0123456789abcdef01234567")
    assert response.status_code == 404 and response.json() == {"message": "Document not found"}
    unknown = admin.get("/no/such/thing")
    assert unknown.status_code == 404 and set(unknown.json()) == {"message"}
    assert admin.post("/inboxes").status_code == 405


def test_metadata_endpoints(admin: httpx.Client) -> None:
    assert admin.get("/about/version").json() == {"version": "4.12.0"}
    projects = admin.get("/projects").json()
    assert len(projects) == 2
    assert set(projects[0]) == {
        "id",
        "name",
        "formats",
        "default_document_type",
        "default_format",
        "split_into_sections",
        "sub_page_splitting",
        "timeout",
    }
    inboxes = admin.get("/inboxes").json()
    assert [i["project"] for i in inboxes] == [
        projects[0]["id"],
        projects[1]["id"],
        projects[0]["id"],
    ]
    users = admin.get("/users").json()
    assert {u["username"] for u in users} >= {ADMIN_USERNAME, VIEWER_USERNAME}
    roles = admin.get("/roles").json()
    assert all(set(r) == {"id", "name", "permissions"} for r in roles)
    formats = admin.get("/formats").json()
    assert all({"id", "name", "document_types", "labels", "table_types"} <= set(f) for f in formats)
    reports = admin.get("/reports").json()
    assert all({"id", "name", "inboxes", "projects", "version_name"} <= set(r) for r in reports)
    role_ids = {r["id"] for r in roles}
    assert all(role["role"] in role_ids for u in users for role in u["roles"])
