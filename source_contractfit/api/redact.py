"""Masking of secrets in any text that leaves the process (logs, errors, progress).

The Airbyte entrypoint masks config secrets itself; this covers what it cannot know
(JWTs obtained at run time, the Basic header) and the exporter, which has no entrypoint.
"""

from __future__ import annotations

import logging
import sys
import threading

MASK = "****"


class Redactor:
    def __init__(self) -> None:
        self._secrets: list[str] = []
        self._lock = threading.Lock()

    def add(self, *secrets: str) -> None:
        with self._lock:
            for secret in secrets:
                # Very short values would mask ordinary words; the config rejects empty ones.
                if secret and len(secret) >= 4 and secret not in self._secrets:
                    self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)
        _register_with_cdk(secrets)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


def _register_with_cdk(secrets: tuple[str, ...]) -> None:
    # The CDK filters log and trace messages through its own secret list; feed it too.
    # Only when the CDK is running this process: importing it costs seconds of start-up
    # (the exporter never needs it).
    if "airbyte_cdk.entrypoint" not in sys.modules:
        return
    from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets

    for secret in secrets:
        if secret and len(secret) >= 4:
            add_to_secrets(secret)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in the final message text."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self.redactor.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
