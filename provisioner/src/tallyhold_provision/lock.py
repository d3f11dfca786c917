"""Per-customer serialisation: a Postgres advisory lock on the slug, held for the whole command.

Session-level, on a connection of its own: if the command dies, Postgres drops the connection and the lock
with it, so a crash never leaves a customer locked.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

NAMESPACE = "tallyhold.provision"


@contextmanager
def customer_lock(url: str, slug: str, *, announce: bool = True) -> Iterator[None]:
    with psycopg.connect(url, autocommit=True, application_name="tallyhold-provision.lock") as conn:
        key = (NAMESPACE, slug)
        got = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s), hashtext(%s))", key).fetchone()
        if not (got and got[0]):
            if announce:
                sys.stderr.write(f"waiting for another command on {slug} to finish…\n")
            conn.execute("SELECT pg_advisory_lock(hashtext(%s), hashtext(%s))", key)
        try:
            yield
        finally:
            if not conn.closed:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s), hashtext(%s))", key)
