"""Transit encrypt, decrypt and rewrap over a (blocking) hvac client, in batches of at most 200 items.

Synchronous on purpose: the instance runs these functions in a worker thread (`vault.VaultSession`), and the
provisioner's rotation calls them directly. Rules that every caller gets for free:

- standard base64 (transit refuses URL-safe base64 with `-`/`_`), done in `context.b64encode`;
- at most `MAX_BATCH_ITEMS` items per request (OpenBao refuses requests with more than 1,000 JSON strings,
  keys included: 200 items × {plaintext|ciphertext, context} = 800);
- every item's outcome is reported, in input order and by the caller's own reference: a failed item is never
  skipped. Transit reports per-item failures in two ways (HTTP 400 with `batch_results` for encrypt/decrypt,
  HTTP 200 with `error` entries for rewrap); both end up as `ItemResult.error`;
- Vault's texts never leave this module: failures become our own short reason codes, and hvac's exceptions
  (whose `text` can hold the plaintexts of a partly failed decrypt batch) are dropped, not chained.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import hvac
import hvac.exceptions

from tallyhold.credentials.context import b64decode, b64encode
from tallyhold.credentials.errors import TransitRejected, VaultUnavailable

MAX_BATCH_ITEMS = 200
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
T = TypeVar("T")


class VaultForbidden(Exception):
    """403 (or 401): the token is expired, revoked, or not allowed this path. The session decides whether a new
    login can help."""


@dataclass(frozen=True)
class EncryptItem:
    reference: str
    context: str
    plaintext: bytes = field(repr=False)


@dataclass(frozen=True)
class CiphertextItem:
    """An item to decrypt or rewrap: the stored ciphertext and the context it was made with."""

    reference: str
    context: str
    ciphertext: str = field(repr=False)


@dataclass(frozen=True)
class ItemResult(Generic[T]):
    reference: str
    value: T | None = field(default=None, repr=False)
    error: str | None = None  # our reason code: authentication_failed, version_too_old, malformed, rejected

    @property
    def ok(self) -> bool:
        return self.error is None


# Per-item failures come only as text; this maps the few that matter to codes, anything else is "rejected".
_ITEM_REASONS = (
    ("message authentication failed", "authentication_failed"),
    ("too old", "version_too_old"),
    ("disallowed by policy", "version_too_old"),
    ("invalid ciphertext", "malformed"),
    ("illegal base64", "malformed"),
    ("invalid version", "malformed"),
    ("decryption failed", "authentication_failed"),
)


def item_reason(vault_error: str) -> str:
    lowered = vault_error.lower()
    for needle, reason in _ITEM_REASONS:
        if needle in lowered:
            return reason
    return "rejected"


def chunks(items: Sequence[T], size: int = MAX_BATCH_ITEMS) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def encrypt(client: hvac.Client, mount: str, key: str, items: Sequence[EncryptItem]) -> list[ItemResult[str]]:
    results: list[ItemResult[str]] = []
    for chunk in chunks(items):
        batch = [{"plaintext": b64encode(item.plaintext), "context": item.context} for item in chunk]
        entries = _batch(client, f"/v1/{_name(mount)}/encrypt/{_name(key)}", {"batch_input": batch}, len(chunk))
        for item, entry in zip(chunk, entries, strict=True):
            results.append(_ciphertext_result(item.reference, entry))
    return results


def decrypt(client: hvac.Client, mount: str, key: str, items: Sequence[CiphertextItem]) -> list[ItemResult[bytes]]:
    results: list[ItemResult[bytes]] = []
    for chunk in chunks(items):
        batch = [{"ciphertext": item.ciphertext, "context": item.context} for item in chunk]
        entries = _batch(client, f"/v1/{_name(mount)}/decrypt/{_name(key)}", {"batch_input": batch}, len(chunk))
        for item, entry in zip(chunk, entries, strict=True):
            error = entry.get("error")
            plaintext = entry.get("plaintext")
            if error or not isinstance(plaintext, str):
                results.append(ItemResult(item.reference, error=item_reason(str(error or ""))))
                continue
            try:
                results.append(ItemResult(item.reference, value=b64decode(plaintext)))
            except ValueError:
                results.append(ItemResult(item.reference, error="malformed"))
    return results


def rewrap(
    client: hvac.Client, mount: str, key: str, items: Sequence[CiphertextItem], *, key_version: int | None = None
) -> list[ItemResult[str]]:
    """Re-encrypt inside Vault with the latest (or `key_version`) key version; plaintext never leaves Vault."""
    results: list[ItemResult[str]] = []
    for chunk in chunks(items):
        batch = [{"ciphertext": item.ciphertext, "context": item.context} for item in chunk]
        payload: dict[str, Any] = {"batch_input": batch}
        if key_version is not None:
            payload["key_version"] = key_version
        entries = _batch(client, f"/v1/{_name(mount)}/rewrap/{_name(key)}", payload, len(chunk))
        for item, entry in zip(chunk, entries, strict=True):
            results.append(_ciphertext_result(item.reference, entry))
    return results


def _ciphertext_result(reference: str, entry: dict[str, Any]) -> ItemResult[str]:
    error = entry.get("error")
    ciphertext = entry.get("ciphertext")
    if error or not isinstance(ciphertext, str) or not ciphertext.startswith("vault:v"):
        return ItemResult(reference, error=item_reason(str(error or "")))
    return ItemResult(reference, value=ciphertext)


def _name(value: str) -> str:
    # Mount and key names come from settings or from TenantVault, both validated; this keeps paths literal.
    if not _NAME.fullmatch(value):
        raise ValueError("not a Vault path segment")
    return value


def _batch(client: hvac.Client, path: str, payload: dict[str, Any], count: int) -> list[dict[str, Any]]:
    response = post(client, path, payload, batch=True)
    data = response.get("data") if isinstance(response, dict) else None
    entries = data.get("batch_results") if isinstance(data, dict) else None
    # Transit answers in input order. No per-item `reference` is sent: OpenBao counts every JSON string of a
    # request (keys included) against max_request_json_strings (1,000), and a third key per item would push a
    # 200-item batch over it.
    if not isinstance(entries, list) or len(entries) != count or not all(isinstance(e, dict) for e in entries):
        raise TransitRejected("malformed_response")
    return entries


def post(client: hvac.Client, path: str, payload: dict[str, Any], *, batch: bool = False) -> dict[str, Any]:
    """POST through hvac and translate its failures. With `batch`, a 400 that carries `batch_results` is a
    per-item answer (some or all items failed), not a failed request."""
    failure: Exception
    try:
        response = client.adapter.post(path, json=payload)
        return response if isinstance(response, dict) else {}
    except hvac.exceptions.InvalidRequest as exc:
        body = exc.json if isinstance(exc.json, dict) else {}
        data = body.get("data")
        if batch and isinstance(data, dict) and isinstance(data.get("batch_results"), list):
            return body
        failure = TransitRejected("invalid_request")
    except Exception as exc:  # translated by class below; the original is not chained (its text may hold data)
        failure = translate(exc)
    raise failure


def translate(exc: Exception) -> Exception:
    """hvac/requests failures → our errors, by class. Unknown exceptions are returned unchanged."""
    if isinstance(exc, hvac.exceptions.Forbidden | hvac.exceptions.Unauthorized):
        return VaultForbidden()
    if isinstance(exc, hvac.exceptions.VaultDown):
        return VaultUnavailable("sealed")
    if isinstance(exc, hvac.exceptions.VaultNotInitialized):
        return VaultUnavailable("not_initialized")
    if isinstance(exc, hvac.exceptions.InvalidRequest | hvac.exceptions.InvalidPath):
        return TransitRejected("invalid_request")
    if isinstance(exc, hvac.exceptions.VaultError):
        # 429 (standby), 500, 502, unexpected statuses: the server is there but not serving us.
        return VaultUnavailable("server_error")
    # requests' ConnectionError and Timeout derive from OSError (RequestException is an IOError).
    if isinstance(exc, OSError):
        return VaultUnavailable("unreachable")
    return exc
