"""The advisory lock that orders credential writes against the end of a key rotation.

Every transaction that encrypts and stores credentials holds the SHARED lock from before its encrypt call until
it commits; the rotation's final pass holds the EXCLUSIVE lock while it rewraps the last stale rows and raises
`min_decryption_version`. So a credential encrypted with an old key version just before a rotation is always
either rewrapped by that final pass or written after it (then with the new version): never stored once its
version can no longer decrypt.
"""

from __future__ import annotations

import zlib

# First half of the two-int advisory key: "TH" for Tallyhold. The second half is derived from the schema, so
# customers sharing one database never wait for each other.
LOCK_CLASS = 0x5448

SHARED_XACT_SQL = "SELECT pg_advisory_xact_lock_shared(%(class)s, %(object)s)"
EXCLUSIVE_SQL = "SELECT pg_advisory_lock(%(class)s, %(object)s)"
UNLOCK_SQL = "SELECT pg_advisory_unlock(%(class)s, %(object)s)"


def lock_key(schema: str) -> dict[str, int]:
    digest = zlib.crc32(schema.encode("ascii"))
    signed = digest - (1 << 32) if digest >= 1 << 31 else digest  # int4 range
    return {"class": LOCK_CLASS, "object": signed}
