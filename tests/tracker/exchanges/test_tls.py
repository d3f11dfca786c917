"""Every ccxt exchange object of a worker shares one TLS context (exchanges/tls.py), and it is the context ccxt
would make itself: certifi's CAs, certificates and host names verified. Configurations that depart from ccxt's
default are left to ccxt."""

from __future__ import annotations

import ssl
from typing import Any

import ccxt.async_support as ccxt

from tallyhold.exchanges.tls import share_tls_context


def _facts(context: ssl.SSLContext) -> dict[str, Any]:
    return {
        "verify_mode": context.verify_mode,
        "check_hostname": context.check_hostname,
        "minimum_version": context.minimum_version,
        "options": context.options,
        "verify_flags": context.verify_flags,
        "ca_certs": context.get_ca_certs(binary_form=True),
    }


async def test_exchanges_share_the_context_ccxt_would_make() -> None:
    binance, kraken, own = ccxt.binance(), ccxt.kraken(), ccxt.binance()
    try:
        share_tls_context(binance)
        share_tls_context(kraken)
        binance.open()
        own.open()  # ccxt makes its own context at its session's opening
        assert binance.ssl_context is kraken.ssl_context
        assert binance.tcp_connector._ssl is binance.ssl_context  # the session's connections use it
        assert _facts(binance.ssl_context) == _facts(own.ssl_context)
        assert binance.ssl_context.verify_mode == ssl.CERT_REQUIRED
        assert binance.ssl_context.check_hostname
        assert len(binance.ssl_context.get_ca_certs()) > 100  # certifi's bundle, loaded
    finally:
        for exchange in (binance, kraken, own):
            await exchange.close()


def test_a_configuration_departing_from_ccxts_default_keeps_its_own() -> None:
    unverified = ccxt.binance({"verify": False})
    with_os_certificates = ccxt.binance({"options": {"include_OS_certificates": True}})
    for exchange in (unverified, with_os_certificates):
        share_tls_context(exchange)
        assert exchange.ssl_context is None
