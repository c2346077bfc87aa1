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
    # True when no other stream can succeed either (wrong credentials, wrong base URL):
    # the run stops instead of going on with the next stream.
    stops_run: bool = False

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

    stops_run = True


class BaseUrlError(ConfigError):
    """'base_url' does not lead to the API: unreachable at the first request, an HTML page,
    a redirect, a TLS failure, or a 404 on a path every tenant has."""

    stops_run = True


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


_KIND_RANK = {FailureKind.CONFIG: 0, FailureKind.SYSTEM: 1, FailureKind.TRANSIENT: 2}


class StreamsFailed(ContractfitError):
    """Some streams failed while the others were read and committed (as the Airbyte CDK
    does: the sync goes on and fails at the end with the list). `failures` maps each failed
    stream to its error; the kind is the one that most needs a person: config, then
    system, then transient."""

    def __init__(self, failures: dict[str, ContractfitError], selected: int) -> None:
        self.failures = dict(failures)
        parts = [f"{name}: {error.message}" for name, error in self.failures.items()]
        super().__init__(
            f"{len(self.failures)} of {selected} stream(s) failed; the others were read "
            f"completely. " + " | ".join(parts)
        )
        self.kind = min((e.kind for e in self.failures.values()), key=_KIND_RANK.__getitem__)


def failed_streams(failures: dict[str, ContractfitError], selected: int) -> ContractfitError:
    """The error a run ends with when streams failed: the error itself when it is the only
    one and every selected stream shared it (nothing else was read), else `StreamsFailed`."""
    errors = {id(error): error for error in failures.values()}
    if len(errors) == 1 and len(failures) == selected:
        return next(iter(errors.values()))
    return StreamsFailed(failures, selected)
