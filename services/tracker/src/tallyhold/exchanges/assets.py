"""One canonical asset code per asset, whatever the venue calls it, with the location kept.

Three layers, applied in order:
1. the venue's quirks, in its adapter (`Adapter.asset_code`): Kraken's legacy X/Z-prefixed ids and its
   staking/earn suffixes, Binance's LD* Simple Earn tokens;
2. ccxt's own code map for the venue (`commonCurrencies`: XBT → BTC, XDG → DOGE, BCC → BCH, ...), handed in by
   the worker from the venue's ccxt class so this module never imports ccxt; the adapter applies it once, to the
   id the venue used (so Kraken's "XREP" is REP while its plain "REP" is ccxt's REPV1);
3. upper-casing (lower-case ids: HTX, Gate).

A code we cannot make canonical keeps the venue's spelling (upper-cased): it is shown, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tallyhold.exchanges.venues.base import Adapter

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9._\-]{0,31}$")


def canonical(adapter: Adapter, raw: str, location: str, common: Mapping[str, str]) -> tuple[str, str]:
    """(asset, location) for a venue's raw asset id found at `location`."""
    code, location = adapter.asset_code(raw.strip().upper(), location, common)
    code = code.upper()
    if not _CODE.fullmatch(code):
        # Never drop a holding for its name: keep a printable, bounded form of what the venue said.
        code = re.sub(r"[^A-Z0-9._\-]", "_", code)[:32] or "UNKNOWN"
    return code, location
