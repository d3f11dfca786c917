"""The instance's AppRole secret id, delivered response-wrapped.

The provisioner never holds a usable secret id: it asks Vault for a wrapped one and hands the instance only the
single-use wrapping token (`TALLYHOLD_VAULT_WRAPPED_SECRET_ID`). At its first login the instance checks where
the token comes from (`sys/wrapping/lookup`: it must wrap a secret id of its own role), unwraps it, and keeps
the secret id in its own private file (`TALLYHOLD_VAULT_SECRET_ID_FILE`, mode 0600) next to a fingerprint of the
wrapping token, so that a restart with the same token logs in with the kept secret id instead of unwrapping
again (a wrapping token unwraps once). A new token from the provisioner (`create`, `upgrade` or `resume` once the
secret id has used half its lifetime or logins) has a new fingerprint and is unwrapped at the next start.

If anybody unwrapped the token before the instance, or it expired first, the instance's unwrap fails: it
logs `vault_wrapping_token_unusable`, reports Vault `denied` and keeps no secret; the operator reruns
`tallyhold-provision upgrade SLUG` for a new one (and, if the instance never started, should ask who
unwrapped it: the Vault audit log records every unwrap).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import hvac
import hvac.exceptions

from tallyhold.credentials.errors import VaultUnavailable
from tallyhold.logging import secrets

logger = logging.getLogger("tallyhold.credentials.delivery")


def fingerprint(wrapping_token: str) -> str:
    return hashlib.sha256(wrapping_token.encode()).hexdigest()


def delivered_secret_id(
    url: str, wrapping_token: str, store: Path, *, creation_path: str, verify: str | bool, timeout: float
) -> str:
    """The secret id the wrapping token delivered: kept from an earlier start, or unwrapped now and kept."""
    secrets.add(wrapping_token)
    expected = fingerprint(wrapping_token)
    kept = _read(store)
    if kept is not None and kept.get("wrapping_token_sha256") == expected and isinstance(kept.get("secret_id"), str):
        secret_id = str(kept["secret_id"])
        secrets.add(secret_id)
        return secret_id
    anonymous = hvac.Client(url=url, token="", timeout=timeout, verify=verify)
    try:
        origin = anonymous.write_data("sys/wrapping/lookup", data={"token": wrapping_token})["data"]
    except hvac.exceptions.InvalidRequest:
        logger.error("vault_wrapping_token_unusable", extra={"reason": "used_or_expired"})
        raise VaultUnavailable("denied") from None
    if origin.get("creation_path") != creation_path:
        logger.error("vault_wrapping_token_unusable", extra={"reason": "wrong_origin"})
        raise VaultUnavailable("denied")
    holder = hvac.Client(url=url, token=wrapping_token, timeout=timeout, verify=verify)
    try:
        data = holder.sys.unwrap()["data"]
    except (hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden):
        # Looked up a moment ago, gone now: somebody else unwrapped it in between.
        logger.error("vault_wrapping_token_unusable", extra={"reason": "used_or_expired"})
        raise VaultUnavailable("denied") from None
    secret_id = str(data["secret_id"])
    secrets.add(secret_id)
    _write_private(store, json.dumps({"wrapping_token_sha256": expected, "secret_id": secret_id}) + "\n")
    logger.info("vault_secret_id_unwrapped")
    return secret_id


def _read(store: Path) -> dict[str, object] | None:
    try:
        data = json.loads(store.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_private(path: Path, text: str) -> None:
    """Mode 0600 from the first byte, replaced whole (a crash leaves the old file or the new one)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
