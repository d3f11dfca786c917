"""Credentials: every exchange secret is encrypted with the customer's own Vault/OpenBao transit key.

    secret.py      Secret (never shows its value; `reveal()` only inside a decrypt-and-use scope)
    transit.py     encrypt / decrypt / rewrap in batches of ≤200, standard base64, per-item results
    context.py     the derivation context `v1|<customer>|<connection id>|<field>` binding a ciphertext to its cell
    vault.py       the instance's Vault session: login (token, AppRole, Kubernetes), renewal, re-login, metrics
    cipher.py      CredentialCipher: the tenant's key as the instance uses it, off the event loop
    service.py     seal a key before its row is written; open it to use it (marks unreadable rows `error`);
                   `usable_cipher`, the one "can Vault be used now" check before a key is stored
    repository.py  the credential write lock, fresh ciphertext reads, error marking
    runtime.py     the Vault session and cipher for the process's lifetime (tallyhold.runtime holds them)
    dependencies.py  `CipherDep`, the cipher as a route dependency
    locks.py       the advisory lock that orders credential writes against the end of a rotation

The provisioner's side (the tenant's key and roles, rotation and rewrap) is in tallyhold_provision: tenant_vault.py,
rotation.py and its SQL, ciphertexts.py.
    errors.py      VaultUnavailable (503 vault_unavailable), CredentialsUnreadable (409), ...

There is no plaintext or local-key fallback anywhere: without Vault, credentials can be neither stored nor used.

For the sync engine (and anything else that uses a stored key):

- `CipherKeySource(cipher).exchange_key(session, connection)` (or `service.open_key`) gives the key, an
  `exchanges.key.ExchangeKey` (SecretStr parts, registered with the log redaction).
- `VaultUnavailable` (a TallyholdError, status 503, code `vault_unavailable`) means Vault cannot be used right
  now (unreachable, sealed, timed out, identity refused). It is about our side, never about the key: pause the
  source (keep its last balances, flagged stale), do not count it against the key or the venue, retry later.
  Nothing was written.
- `CredentialsUnreadable` (status 409, code `credentials_unreadable`) means the stored ciphertext does not
  decrypt (swapped, tampered, retired key version, key destroyed): permanent until the key is replaced. The
  connection has already been marked `error` in the caller's session; let that transaction commit.
- `CredentialCipher.available` (False from the first failed Vault call until one succeeds again; the session
  probes every 2 s) lets a scheduler skip exchange sources without trying; `tallyhold_vault_up` and
  `/readyz` carry the same signal outside the process.
"""

from tallyhold.lean_imports import import_requests_without_detector

# Before any module of this package imports hvac, which imports requests: hvac's requests without a detector.
import_requests_without_detector("hvac")
