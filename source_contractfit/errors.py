"""Exceptions that say whose fault a failure is.

Every failure the connector can hit ends up as one of these, so each front end (Airbyte
protocol, exporter CLI) can turn it into one readable message: a `config_error` when the
user can fix it, a `transient_error` when retrying later may help, a `system_error` when
the server broke the contract. Messages never contain a secret.
"""

from __future__ import annotations

from enum import Enum


class FailureKind(str, Enum):
    """Mirrors Airbyte's FailureType without importing the CDK here."""

    CONFIG = "config_error"
    TRANSIENT = "transient_error"
    SYSTEM = "system_error"


class ContractfitError(Exception):
    """Base class: `message` is what the user reads, `kind` who should act."""

    kind: FailureKind = FailureKind.SYSTEM

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(ContractfitError):
    """The configuration (or state, or catalog) given to us is wrong."""

    kind = FailureKind.CONFIG


class AuthenticationError(ConfigError):
    """401 after the one re-login we allow ourselves: the credentials are wrong or revoked."""


class PermissionDeniedError(ConfigError):
    """403: the credentials work but may not see this inbox or endpoint."""


class NotFoundError(ContractfitError):
    """404 on a path we expected to exist (a deleted document is handled by the caller)."""

    kind = FailureKind.CONFIG


class BadRequestError(ContractfitError):
    """400: the server refused a parameter we sent; usually a config value such as a date."""

    kind = FailureKind.CONFIG


class TransientError(ContractfitError):
    """Retries exhausted on 429/5xx/connection errors, or the total wait bound was reached."""

    kind = FailureKind.TRANSIENT


class ResponseFormatError(ContractfitError):
    """The server answered, but not with what API.md promises (not JSON, wrong shape)."""

    kind = FailureKind.SYSTEM
