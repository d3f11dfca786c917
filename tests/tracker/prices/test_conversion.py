"""Price conversion from market tickers: paths, venue preference, stablecoins from the market, sources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tallyhold.prices.conversion import resolve
from tallyhold.prices.wire import Ticker

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
VENUES = ["binance", "kraken"]


def tick(venue: str, symbol: str, price: str, at: datetime = T0) -> Ticker:
    base, quote = symbol.split("/")
    return Ticker(venue=venue, base=base, quote=quote, price=Decimal(price), at=at)


def test_stablecoin_is_priced_from_its_market_never_assumed_one() -> None:
    tickers = [tick("binance", "BTC/USDT", "60000"), tick("kraken", "USDT/USD", "0.9990")]
    prices = resolve(tickers, ["USDT", "BTC"], "USD", VENUES)
    assert prices["USDT"].price == Decimal("0.999")
    assert prices["USDT"].source == "kraken:USDT/USD"
    assert prices["BTC"].price == Decimal("59940")
    assert prices["BTC"].source == "binance:BTC/USDT*kraken:USDT/USD"


def test_without_a_stablecoin_market_nothing_is_invented() -> None:
    prices = resolve([tick("binance", "BTC/USDT", "60000")], ["BTC", "USDT"], "USD", VENUES)
    assert prices == {}


def test_direct_market_beats_a_longer_path_and_preferred_venue_wins() -> None:
    tickers = [
        tick("kraken", "ETH/USD", "3001"),
        tick("binance", "ETH/USD", "3000"),
        tick("binance", "ETH/USDT", "2990"),
        tick("kraken", "USDT/USD", "1.001"),
    ]
    eth = resolve(tickers, ["ETH"], "USD", VENUES)["ETH"]
    assert (eth.price, eth.source) == (Decimal("3000"), "binance:ETH/USD")


def test_fiat_quotes_convert_through_inverted_markets() -> None:
    tickers = [
        tick("kraken", "BTC/USD", "60000"),
        tick("kraken", "EUR/USD", "1.0800"),
        tick("kraken", "GBP/USD", "1.25"),
        tick("kraken", "USD/CHF", "0.90"),
    ]
    eur = resolve(tickers, ["BTC", "USD", "GBP"], "EUR", VENUES)
    assert eur["BTC"].price == Decimal("55555.5555555555556"), "18 significant digits"
    assert eur["BTC"].source == "kraken:BTC/USD*kraken:EUR/USD"
    assert eur["USD"].price.quantize(Decimal("0.0001")) == Decimal("0.9259")
    assert eur["GBP"].price.quantize(Decimal("0.0001")) == Decimal("1.1574")
    chf = resolve(tickers, ["BTC"], "CHF", VENUES)
    assert chf["BTC"].price == Decimal("54000")
    gbp = resolve(tickers, ["BTC"], "GBP", VENUES)
    assert gbp["BTC"].price == Decimal("48000")


def test_price_time_is_the_oldest_leg_and_garbage_tickers_are_ignored() -> None:
    old = T0 - timedelta(hours=3)
    tickers = [tick("binance", "SOL/USDT", "150", at=T0), tick("kraken", "USDT/USD", "1", at=old)]
    assert resolve(tickers, ["SOL"], "USD", VENUES)["SOL"].at == old


def test_paths_only_pass_through_bridge_currencies() -> None:
    tickers = [tick("binance", "AAA/BBB", "2"), tick("binance", "BBB/USD", "3")]
    assert resolve(tickers, ["AAA", "BBB"], "USD", VENUES).keys() == {"BBB"}
    assert resolve(tickers, ["AAA"], "USD", VENUES, bridges=["BBB"])["AAA"].price == Decimal(6)


def test_quote_currency_itself_is_not_priced_here() -> None:
    assert resolve([tick("kraken", "USDT/USD", "1")], ["USD"], "USD", VENUES) == {}
