"""Masking of secrets in any text that leaves the process (logs, errors, progress).

The Airbyte entrypoint masks config secrets itself; this covers what it cannot know
(JWTs obtained at run time, the Basic header) and the exporter, which has no entrypoint.
One `Redactor` serves the whole process: the front end creates it, hands it to the client
(which adds every secret it derives) and masks every output path with it.

Each secret is masked in the forms text may carry it in: raw, `repr()`-escaped (httpx
writes an illegal header value as `b'key\\n'`), JSON-escaped, and URL-encoded (`quote`,
`quote_plus`, as a redirect's `Location` or a logged URL would hold it).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from urllib.parse import quote, quote_plus

MASK = "****"
MIN_SECRET_LENGTH = 4  # very short values would mask ordinary words


def escaped_forms(secret: str) -> list[str]:
    """`secret` and every escaped form of it that text leaving the process may hold."""
    raw = secret.encode("utf-8", "surrogatepass")
    # repr() escapes `'` only when the whole text holds both quotes: the `+ QUOTES` forms
    # are the secret as it reads inside such a text (repr never escapes `"`).
    quotes = "'\""
    forms = [
        secret,
        repr(secret)[1:-1],
        repr(secret + quotes)[1:-4],
        ascii(secret)[1:-1],
        ascii(secret + quotes)[1:-4],
        repr(raw)[2:-1],  # as httpx prints an illegal header value (bytes)
        repr(raw + quotes.encode())[2:-4],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret),
        quote(secret, safe=""),
        quote_plus(secret),
        quote_plus(secret, safe=""),
    ]
    unique: list[str] = []
    for form in forms:
        if len(form) >= MIN_SECRET_LENGTH and form not in unique:
            unique.append(form)
    return unique


class Redactor:
    def __init__(self) -> None:
        self._secrets: list[str] = []
        self._lock = threading.Lock()

    def add(self, *secrets: str) -> None:
        forms = [form for secret in secrets if secret for form in escaped_forms(secret)]
        with self._lock:
            for form in forms:
                if form not in self._secrets:
                    self._secrets.append(form)
            # Longest first: a form containing another is masked whole.
            self._secrets.sort(key=len, reverse=True)
        _register_with_cdk(tuple(forms))

    def mask(self, text: str) -> str:
        with self._lock:
            secrets = list(self._secrets)
        for secret in secrets:
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
        if len(secret) >= MIN_SECRET_LENGTH:
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
