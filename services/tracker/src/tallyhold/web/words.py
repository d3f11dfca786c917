"""Stable error codes in words a customer understands (the code itself stays visible for support)."""

from __future__ import annotations

ERRORS = {
    "invalid_credentials": "The exchange refused the key: it is wrong, revoked or expired, its IP allowlist "
    "leaves Tallyhold out, or a passphrase it needs is missing. Replace the key.",
    "key_revoked": "The exchange says this key was deleted or revoked. Create a new read-only key and replace it.",
    "write_permissions": "The exchange now reports that this key can do more than read. It is never used again: "
    "create a new read-only key and replace it.",
    "missing_read_permission": "The key cannot read balances. Switch on the read permission, or replace the key.",
    "permission_denied": "The exchange refused a read this key should be allowed to make.",
    "account_suspended": "The exchange reports the account as suspended.",
    "exchange_unavailable": "The exchange did not answer properly. Tallyhold retries by itself.",
    "timeout": "The exchange or chain did not answer in time. Tallyhold retries by itself.",
    "rate_limited": "The exchange asked us to slow down. Tallyhold waits and retries by itself.",
    "banned": "The exchange temporarily blocked requests from this server. Tallyhold waits for the block to end.",
    "malformed_response": "The exchange or chain sent an answer Tallyhold could not read. It retries by itself; "
    "the last good balances are shown meanwhile.",
    "vault_unavailable": "The key store is unreachable, so keys cannot be used right now. It recovers by itself.",
    "credentials_unreadable": "The stored key can no longer be decrypted. Replace the key.",
    "chain_unavailable": "The chain's node did not answer. Tallyhold retries by itself.",
    "chain_mismatch": "The configured node serves another chain. The operator must fix its address.",
    "chain_not_configured": "This chain is not configured on this instance.",
    "token_read_failed": "A token contract did not answer its balance. Tallyhold retries by itself.",
    "unverifiable_permissions": "The exchange cannot tell what this key may do.",
}


def error_words(code: str | None) -> str | None:
    if code is None:
        return None
    return ERRORS.get(code, f"The last attempt failed ({code}). Tallyhold retries by itself.")
