"""The redactor masks each secret in every form text may carry it in, and is shared.

Raw, `repr()`-escaped (httpx prints an illegal header value as `b'key\\n'`), JSON-escaped,
URL-encoded (`quote` and `quote_plus`), and for Basic auth the base64 of the pair.
"""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote, quote_plus

import httpx
import pytest

from source_contractfit.api.client import ContractfitClient
from source_contractfit.api.redact import MASK, RedactingFilter, Redactor, escaped_forms
from source_contractfit.config import ConnectorConfig

# Every character class an escape treats differently: quote, slash, plus, space, percent,
# a newline and a non-ASCII letter.
SECRET = "p'a\"ss/w+o rd%\né-42"


def forms_of(secret: str) -> dict[str, str]:
    return {
        "raw": secret,
        "repr": repr(secret),
        "ascii": ascii(secret),
        "bytes repr": repr(secret.encode()),
        "json": json.dumps(secret),
        "json unicode": json.dumps(secret, ensure_ascii=False),
        "quote": quote(secret),
        "quote safe=''": quote(secret, safe=""),
        "quote_plus": quote_plus(secret),
    }


@pytest.mark.parametrize(("name", "form"), list(forms_of(SECRET).items()))
def test_every_escaped_form_of_a_secret_is_masked(name: str, form: str) -> None:
    redactor = Redactor()
    redactor.add(SECRET)
    masked = redactor.mask(f"error: Illegal header value {form} (after 3 attempts)")
    assert "****" in masked, name
    for other in forms_of(SECRET).values():
        stripped = other.strip("'\"b")
        assert stripped not in masked, (name, other)


def test_the_forms_are_distinct_and_skip_short_ones() -> None:
    forms = escaped_forms(SECRET)
    assert len(forms) == len(set(forms)) and SECRET in forms
    assert escaped_forms("abc") == []  # too short to mask without masking words


def test_a_pasted_newline_in_a_key_is_masked_as_httpx_writes_it() -> None:
    key = "cf_live_0123456789abcdef\n"
    redactor = Redactor()
    redactor.add(key)
    text = f"Illegal header value {key.encode()!r}"
    assert redactor.mask(text) == f"Illegal header value b'{MASK}'"


def test_basic_auth_feeds_the_base64_pair_and_its_escaped_forms() -> None:
    config = ConnectorConfig.from_mapping(
        {
            "base_url": "http://127.0.0.1:9/api",
            "credentials": {"auth_type": "basic", "username": "ana", "password": "s3cr3t~?>>"},
        }
    )
    redactor = Redactor()
    ContractfitClient(config, redactor=redactor).close()
    token = base64.b64encode(b"ana:s3cr3t~?>>").decode()
    assert "+" in token or "/" in token or "=" in token  # the escapes change it
    for form in (token, quote(token, safe=""), quote_plus(token), f"Basic {token}"):
        assert token not in redactor.mask(f"Location: /x?auth={form}")
        assert quote(token, safe="") not in redactor.mask(f"Location: /x?auth={form}")
    assert "s3cr3t" not in redactor.mask("password s3cr3t~?>> in clear")


def test_the_client_adds_jwts_to_the_redactor_it_was_given() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbmEifQ.c2lnbmF0dXJl"

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth"):
            return httpx.Response(200, json={"authentication_token": jwt})
        return httpx.Response(200, json=[])

    config = ConnectorConfig.from_mapping(
        {
            "base_url": "http://127.0.0.1:9/api",
            "credentials": {"auth_type": "token", "username": "ana", "password": "pw-123456"},
        }
    )
    redactor = Redactor()
    with ContractfitClient(
        config, transport=httpx.MockTransport(answer), redactor=redactor
    ) as client:
        assert client.redactor is redactor
        client.get_json("inboxes")
    assert redactor.mask(f"Bearer {jwt}") == f"Bearer {MASK}"
    assert redactor.mask(quote(jwt, safe="")) == MASK


def test_the_logging_filter_masks_the_final_message() -> None:
    redactor = Redactor()
    redactor.add(SECRET)
    record = logging.LogRecord("x", logging.WARNING, "f", 1, "got %r", (SECRET,), None)
    RedactingFilter(redactor).filter(record)
    assert record.getMessage() == f"got '{MASK}'"


def test_a_secret_is_masked_inside_the_repr_of_a_longer_text() -> None:
    # repr() escapes `'` only when the whole text holds both quote kinds.
    secret = "it's-a-secret\n"
    redactor = Redactor()
    redactor.add(secret)
    for text in (f'Location "{secret}"', f"Location {secret}", secret):
        masked = redactor.mask(repr(text))
        assert "a-secret" not in masked and MASK in masked, masked
        assert "a-secret" not in redactor.mask(ascii(text)) and "a-secret" not in redactor.mask(
            repr(text.encode())
        )
