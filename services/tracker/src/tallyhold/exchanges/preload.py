"""Every supported venue's ccxt class, imported once: the egress fork server (tallyhold/egress/forkserver.py)
calls `import_venues` before its first fork, so that no forked worker imports an exchange itself. Named to the
server by its import path, as the egress operations are, so that egress imports nothing of exchanges."""

from __future__ import annotations

import importlib

from tallyhold.exchanges.registry import ADAPTERS


def import_venues() -> None:
    """After the worker's own import preparation (ccxt's packages without their exchanges, see
    tallyhold/egress/ccxt_packages.py): each venue's class is imported the first time it is asked for."""
    exchanges = importlib.import_module("ccxt.async_support")
    for venue in ADAPTERS:
        getattr(exchanges, venue)
