"""The credential cipher's errors. None of them carries a plaintext, a ciphertext, a context or Vault's text.

VaultUnavailable       503 vault_unavailable     Vault cannot be reached, is sealed, timed out, or refuses the
                                                 instance's identity even after a fresh login. Transient:
                                                 retry later; never fall back to anything.
CredentialsUnreadable  500 credentials_unreadable  a stored ciphertext did not decrypt (tampered, swapped
                                                 between rows or fields, older than min_decryption_version,
                                                 key destroyed). Permanent for that connection until its
                                                 key is replaced.
TransitRejected        500 internal_error        Vault refused a whole request (a bug or a misconfiguration
                                                 on our side: unknown key, malformed batch).
(The provisioner's own, KeyMisconfigured and RewrapIncomplete, live with their callers in tallyhold_provision.)
"""

from __future__ import annotations

from tallyhold.errors import ServiceUnavailable, TallyholdError


class VaultUnavailable(ServiceUnavailable):
    default_code = "vault_unavailable"
    default_message = "The key service is unavailable; credentials cannot be stored or used right now."

    def __init__(self, reason: str = "unreachable") -> None:
        # `reason` is one of our own short codes (unreachable, sealed, timeout, denied, not_configured); it is
        # kept for logs and metrics and never rendered into the error body.
        super().__init__()
        self.reason = reason

    def body(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message}}


class CredentialsUnreadable(TallyholdError):
    status_code = 409
    default_code = "credentials_unreadable"
    default_message = "The stored credentials of this connection cannot be used; replace them."

    def __init__(self, reasons: dict[str, str] | None = None) -> None:
        super().__init__()
        # field -> reason code (authentication_failed, version_too_old, malformed, rejected); for logs and
        # metrics only, never rendered into the error body.
        self.reasons = reasons or {}


class TransitRejected(TallyholdError):
    """Vault refused a whole transit request. `reason` is our own short code, never Vault's text."""

    status_code = 500
    default_code = "internal_error"

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason
