"""Credentials: every exchange secret is encrypted with the customer's own Vault/OpenBao transit key.

    transit.py     encrypt / decrypt / rewrap in batches of ≤200, standard base64, per-item results
    context.py     the derivation context `v1|<customer>|<connection id>|<field>` binding a ciphertext to its cell
    lifecycle.py   the provisioner's library: key, disable_upsert, tenant policy, AppRole/Kubernetes roles, destroy
    rotation.py    rotate + rewrap every ciphertext of the tenant + raise min_decryption_version
    locks.py       the advisory lock that orders credential writes against the end of a rotation
    errors.py      VaultUnavailable (503 vault_unavailable), CredentialsUnreadable, ...

There is no plaintext or local-key fallback anywhere: without Vault, credentials can be neither stored nor used.
"""
