"""Exchange keys no exchange could accept are bad input, refused before any outbound call.

Every supported exchange issues its API key and uid as visible ASCII, and sends the key (and a passphrase,
where it has one) in an HTTP header, where a line break, a control character or a non-ASCII character cannot
go; the secret only goes into a signature, where a control character has no place either. ccxt fails inside
the egress worker on such values, which would otherwise be answered as an exchange outage. The rules:
    api_key, uid   visible ASCII, no whitespace at all (U+0021–U+007E)
    passphrase     printable ASCII, inner spaces allowed (customers choose passphrases)
    api_secret     no control character but line breaks (PEM private keys span lines; UTF-8 signs any text)
    Kraken         the secret is standard base64 as well: ccxt decodes it to sign
Refusals are 422 `invalid_key_format` with the names of the offending fields, never their values.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING

from pydantic import SecretStr

from tallyhold.errors import Unprocessable

if TYPE_CHECKING:  # the key model documents its parts with the patterns below
    from tallyhold.exchanges.key import ExchangeKey

VISIBLE_ASCII = r"^[!-~]+$"
PRINTABLE_ASCII = r"^[ -~]+$"
TEXT_LINES = r"^[^\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]+$"
PATTERNS = {
    "api_key": VISIBLE_ASCII,
    "uid": VISIBLE_ASCII,
    "passphrase": PRINTABLE_ASCII,
    "api_secret": TEXT_LINES,
}
_COMPILED = {field: re.compile(pattern) for field, pattern in PATTERNS.items()}
_BASE64_SECRETS = frozenset({"kraken"})


def check(exchange: str, key: ExchangeKey) -> None:
    bad = [field for field, pattern in _COMPILED.items() if not _matches(pattern, getattr(key, field))]
    if "api_secret" not in bad and exchange in _BASE64_SECRETS and not _is_base64(key.api_secret):
        bad.append("api_secret")
    if bad:
        raise Unprocessable(
            "The key holds characters that cannot go into a request header or a signature (line breaks, control "
            "or non-ASCII characters in the key, uid or passphrase; control characters in the secret). Copy it "
            "again exactly as the exchange shows it.",
            code="invalid_key_format",
            fields=bad,
        )


def _matches(pattern: re.Pattern[str], value: SecretStr | None) -> bool:
    return value is None or pattern.fullmatch(value.get_secret_value()) is not None


def _is_base64(value: SecretStr) -> bool:
    try:
        base64.b64decode(value.get_secret_value(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True
