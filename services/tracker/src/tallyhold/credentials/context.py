"""The derivation context that binds each ciphertext to its record and field.

`v1|<customer>|<record id>|<field>`: transit derives a per-context key from the tenant's key, so a ciphertext
copied to another row, another field or another customer fails authentication. The `v1` prefix lets the scheme
change later without ambiguity. The context is not secret (Vault's audit log records it as an HMAC).
"""

from __future__ import annotations

import base64
import re

CONTEXT_VERSION = "v1"
# The secret fields of an exchange key, and the column each is stored in.
FIELDS = ("api_key", "api_secret", "passphrase", "uid")
COLUMNS = {field: f"{field}_ct" for field in FIELDS}
_PART = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def derivation_context(customer_id: str, record_id: str, field: str) -> str:
    """The standard-base64 context transit expects (Go's StdEncoding; URL-safe base64 is refused)."""
    for part in (customer_id, record_id, field):
        if not _PART.fullmatch(part):
            raise ValueError("context parts are short identifiers")
    raw = f"{CONTEXT_VERSION}|{customer_id}|{record_id}|{field}".encode("ascii")
    return base64.b64encode(raw).decode("ascii")


def b64encode(data: bytes) -> str:
    """Standard base64 with padding: the only alphabet transit accepts."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)
