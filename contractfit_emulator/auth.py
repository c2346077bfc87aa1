"""The three authentication schemes (Basic, JWT, API key) and per-inbox permissions.

JWTs are real HS256 tokens whose `exp` follows the virtual clock, so a test can expire
them by advancing the clock as well as by revoking all issued tokens at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
from collections.abc import Mapping
from typing import Protocol

import orjson

from .clock import VirtualClock
from .directory import Directory, User
from .errors import ApiError, forbidden, not_found
from .timeutil import US


class Headers(Protocol):
    """Case-insensitive header lookup (`email.message.Message`, httpx/dict-like)."""

    def get(self, name: str, /) -> str | None: ...


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message)


class Authenticator:
    """Checks credentials and issues tokens for the tenant's users."""

    def __init__(self, directory: Directory, clock: VirtualClock, jwt_lifetime: int) -> None:
        self.directory = directory
        self.clock = clock
        self.jwt_lifetime = jwt_lifetime
        self._secret = hashlib.sha256(f"contractfit-emulator:{directory.seed}".encode()).digest()
        self._by_name = {u.username: u for u in directory.users if u.password}
        self._by_id = {u.id: u for u in directory.users}
        self._by_key = {u.api_key: u for u in directory.users if u.api_key}
        self._revoked_keys: set[str] = set()
        self._generation = 0  # tokens of older generations are revoked
        self._issued = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------ issuing

    def login(self, username: object, password: object) -> str:
        """`POST /auth`: a JWT for valid credentials, else 401."""
        user = self._by_name.get(username) if isinstance(username, str) else None
        if (
            user is None
            or not isinstance(password, str)
            or not hmac.compare_digest((user.password or "").encode(), password.encode())
        ):
            raise unauthorized("Wrong credentials")
        with self._lock:
            self._issued += 1
            serial = self._issued
            generation = self._generation
        now_s = self.clock.now() // US
        payload = {
            "sub": user.id,
            "username": user.username,
            "iat": now_s,
            "exp": now_s + self.jwt_lifetime,
            "jti": hashlib.sha256(f"{self.directory.seed}:{serial}".encode()).hexdigest()[:16],
            "gen": generation,
        }
        header = _b64url(orjson.dumps({"alg": "HS256", "typ": "JWT"}))
        body = _b64url(orjson.dumps(payload))
        signature = hmac.new(self._secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
        return f"{header}.{body}.{_b64url(signature)}"

    def expire_tokens(self) -> int:
        """Revoke every token issued so far; returns how many had been issued."""
        with self._lock:
            self._generation += 1
            return self._issued

    def revoke_key(self, api_key: str) -> bool:
        """Revoke an API key; False when the key is unknown."""
        if api_key not in self._by_key:
            return False
        self._revoked_keys.add(api_key)
        return True

    # ------------------------------------------------------------ checking

    def authenticate(self, headers: Headers, query: Mapping[str, str]) -> User:
        """The calling user, or 401 with a message saying what was wrong."""
        authorization = headers.get("Authorization")
        if authorization:
            scheme, _, credentials = authorization.strip().partition(" ")
            scheme = scheme.lower()
            if scheme == "basic":
                return self._basic(credentials.strip())
            if scheme == "bearer":
                return self._bearer(credentials.strip())
            raise unauthorized(f"Unsupported authorization scheme: {scheme!r}")
        api_key = headers.get("X-API-Key") or query.get("api_key")
        if api_key:
            return self._api_key(api_key.strip())
        raise unauthorized("Missing credentials")

    def _basic(self, credentials: str) -> User:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise unauthorized("Malformed Basic credentials") from None
        username, sep, password = decoded.partition(":")
        user = self._by_name.get(username)
        if (
            not sep
            or user is None
            or not hmac.compare_digest((user.password or "").encode(), password.encode())
        ):
            raise unauthorized("Invalid username or password")
        return user

    def _bearer(self, token: str) -> User:
        parts = token.split(".")
        if len(parts) != 3:
            raise unauthorized("Malformed token")
        header, body, signature = parts
        expected = hmac.new(self._secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
        try:
            valid = hmac.compare_digest(expected, _b64url_decode(signature))
            payload = orjson.loads(_b64url_decode(body))
        except (binascii.Error, ValueError, orjson.JSONDecodeError):
            raise unauthorized("Malformed token") from None
        if not valid or not isinstance(payload, dict):
            raise unauthorized("Invalid token signature")
        if payload.get("gen") != self._generation:
            raise unauthorized("Token has been revoked")
        exp = payload.get("exp")
        if not isinstance(exp, int) or self.clock.now() // US >= exp:
            raise unauthorized("Token has expired")
        user = self._by_id.get(payload.get("sub", ""))
        if user is None:
            raise unauthorized("Unknown token subject")
        return user

    def _api_key(self, api_key: str) -> User:
        user = self._by_key.get(api_key)
        if user is None:
            raise unauthorized("Invalid API key")
        if api_key in self._revoked_keys:
            raise unauthorized("API key has been revoked")
        return user

    # ------------------------------------------------------------ permissions

    def require(self, user: User, permission: str) -> None:
        """403 unless the user's role grants the permission."""
        if permission not in self.directory.role_permissions(user):
            raise forbidden()

    def require_inbox(self, user: User, inbox_id: str, permission: str = "view_list") -> None:
        """404 for an unknown inbox, 403 for one the user may not see."""
        if inbox_id not in self.directory.inbox_by_id:
            raise not_found("Inbox not found")
        if not user.may_see(inbox_id):
            raise forbidden()
        self.require(user, permission)
