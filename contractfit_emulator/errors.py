"""The one exception API handlers raise: status code plus the `{"message": ...}` text."""

from __future__ import annotations

from .tenant import PERMISSION_DENIED


class ApiError(Exception):
    """An error response; `headers` carries extras such as `Retry-After`."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str = "Not Found") -> ApiError:
    return ApiError(404, message)


def forbidden() -> ApiError:
    return ApiError(403, PERMISSION_DENIED)
