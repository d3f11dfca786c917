"""One canonical code per asset, location kept (Kraken prefixes and suffixes, Binance LD* tokens, ccxt's map)."""

import pytest

from tallyhold.exchanges.assets import canonical
from tallyhold.exchanges.registry import ADAPTERS
from tallyhold.exchanges.venues.binance import ld_underlying

# ccxt 4.5.90's commonCurrencies of kraken (a subset), the worker passes the real one.
KRAKEN = {
    "XBT": "BTC",
    "XDG": "DOGE",
    "XXBT": "BTC",
    "XETH": "ETH",
    "ZUSD": "USD",
    "ZEUR": "EUR",
    "XREP": "REP",
    "REP": "REPV1",
    "XXDG": "DOGE",
}


@pytest.mark.parametrize(
    ("raw", "location", "expected"),
    [
        ("XXBT", "spot", ("BTC", "spot")),
        ("XBT.M", "spot", ("BTC", "earn")),
        ("XBT.F", "spot", ("BTC", "earn")),
        ("XETH", "spot", ("ETH", "spot")),
        ("ETH2", "spot", ("ETH", "staked")),
        ("ETH2.S", "spot", ("ETH", "staked")),
        ("DOT.S", "spot", ("DOT", "staked")),
        ("SOL.B", "spot", ("SOL", "staked")),
        ("USDC.M", "spot", ("USDC", "earn")),
        ("USD.HOLD", "spot", ("USD", "hold")),
        ("ZUSD", "spot", ("USD", "spot")),
        ("ZEUR", "spot", ("EUR", "spot")),
        ("XXDG", "spot", ("DOGE", "spot")),
        ("XREP", "spot", ("REP", "spot")),  # ccxt maps once: the legacy id is REP, the plain one REPV1
        ("REP", "spot", ("REPV1", "spot")),
        ("XTZ", "spot", ("XTZ", "spot")),  # a modern 3-letter asset that starts with X
        ("ZEUS", "spot", ("ZEUS", "spot")),  # a modern asset that starts with Z
        ("ZRX", "spot", ("ZRX", "spot")),
        ("FOO.Q", "spot", ("FOO.Q", "spot")),  # unknown suffix: visible as-is, never dropped
        ("usdt", "spot", ("USDT", "spot")),
    ],
)
def test_kraken(raw, location, expected):
    assert canonical(ADAPTERS["kraken"], raw, location, KRAKEN) == expected


def test_binance_ld_tokens_are_earn_positions():
    assert canonical(ADAPTERS["binance"], "LDBTC", "spot", {}) == ("BTC", "earn")
    assert canonical(ADAPTERS["binance"], "LDUSDT", "spot", {}) == ("USDT", "earn")
    assert canonical(ADAPTERS["binance"], "LDO", "spot", {}) == ("LDO", "spot")  # Lido DAO, a real token
    assert canonical(ADAPTERS["binance"], "LDBTC", "funding", {}) == ("LDBTC", "funding")  # only spot carries LD tokens
    assert ld_underlying("LDO") is None


def test_ccxt_map_and_odd_codes():
    assert canonical(ADAPTERS["kucoin"], "WAX", "spot", {"WAX": "WAXP"}) == ("WAXP", "spot")
    assert canonical(ADAPTERS["htx"], "btc", "spot", {}) == ("BTC", "spot")
    code, _ = canonical(ADAPTERS["gate"], "we!rd co$in", "spot", {})
    assert code == "WE_RD_CO_IN"
