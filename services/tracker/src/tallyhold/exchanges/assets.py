"""One canonical asset code per asset, whatever the venue calls it, with the location kept.

Three layers, applied in order:
1. the venue's quirks (below): Kraken's legacy X/Z-prefixed ids and its staking/earn suffixes, Binance's LD*
   Simple Earn tokens, lower-case ids (HTX, Gate);
2. ccxt's own code map for the venue (`commonCurrencies`: XBT → BTC, XDG → DOGE, BCC → BCH, ...), handed in by
   the worker from the venue's ccxt class so this module never imports ccxt;
3. upper-casing.

A code we cannot make canonical keeps the venue's spelling (upper-cased): it is shown, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Kraken's pre-2017 assets carry an X (crypto) or Z (fiat) prefix in balance and ledger ids; newer assets
# do not (so "ZEUS" or "XTZ" must not be stripped). The list is Kraken's `Assets` altnames of that era.
KRAKEN_LEGACY = {
    "XXBT": "XBT",
    "XETH": "ETH",
    "XETC": "ETC",
    "XLTC": "LTC",
    "XMLN": "MLN",
    "XREP": "REP",
    "XXDG": "XDG",
    "XXLM": "XLM",
    "XXMR": "XMR",
    "XXRP": "XRP",
    "XZEC": "ZEC",
    "XICN": "ICN",
    "XNMC": "NMC",
    "XXVN": "XVN",
    "XDAO": "DAO",
    "ZUSD": "USD",
    "ZEUR": "EUR",
    "ZGBP": "GBP",
    "ZJPY": "JPY",
    "ZCAD": "CAD",
    "ZAUD": "AUD",
}
# Kraken balance suffixes (docs "Get Account Balance": "staking/earn balances are reported with a suffix").
KRAKEN_SUFFIX_LOCATIONS = {
    "S": "staked",  # legacy staking
    "B": "staked",  # bonded staking (Kraken Earn)
    "P": "staked",  # parachain
    "M": "earn",  # opt-in rewards
    "F": "earn",  # auto-earn (flexible)
    "HOLD": "hold",  # funds on hold
}
# Used when ccxt's map does not know the id (it knows most legacy ids already).
KRAKEN_ALIASES = {"XBT": "BTC", "XDG": "DOGE"}

# Binance shows Simple Earn flexible positions in the spot account as "LD" + asset. Real tokens that happen to
# start with LD are listed here so they are never mistaken for earn positions.
BINANCE_LD_TOKENS = frozenset({"LDO"})

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9._\-]{0,31}$")


def canonical(venue: str, raw: str, location: str, common: Mapping[str, str]) -> tuple[str, str]:
    """(asset, location) for a venue's raw asset id found at `location`. ccxt's map applies once, to the id
    the venue used (so Kraken's "XREP" is REP while its plain "REP" is ccxt's REPV1)."""
    code = raw.strip().upper()
    if venue == "kraken":
        code, location = _kraken(code, location, common)
    elif venue == "binance" and location == "spot" and (underlying := binance_ld_underlying(code)) is not None:
        code, location = common.get(underlying, underlying), "earn"
    else:
        code = common.get(code, code)
    code = code.upper()
    if not _CODE.fullmatch(code):
        # Never drop a holding for its name: keep a printable, bounded form of what the venue said.
        code = re.sub(r"[^A-Z0-9._\-]", "_", code)[:32] or "UNKNOWN"
    return code, location


def binance_ld_underlying(code: str) -> str | None:
    """ "LDBTC" → "BTC": the asset behind a Binance Simple Earn flexible token; None for anything else."""
    code = code.strip().upper()
    if code.startswith("LD") and len(code) > 3 and code not in BINANCE_LD_TOKENS:
        return code[2:]
    return None


def _kraken(code: str, location: str, common: Mapping[str, str]) -> tuple[str, str]:
    base, dot, suffix = code.partition(".")
    if dot:
        suffix_location = KRAKEN_SUFFIX_LOCATIONS.get(suffix)
        if suffix_location is None:
            return code, location  # an unknown suffix stays visible as-is
        location = suffix_location
    if base == "ETH2":
        return "ETH", "staked"
    if base in common:
        return common[base], location
    base = KRAKEN_LEGACY.get(base, base)
    return KRAKEN_ALIASES.get(base, base), location
