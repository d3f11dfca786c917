"""Key-changing methods (and cancel-all) are unreachable by the adapters: a read-only key must stay
read-only, whatever permissions it really has.

Three proofs: the pinned list covers every key-management endpoint ccxt knows for our venues; no adapter
declares one; and both walls (the name check in `VenueApi.call`, the transport guard on `fetch`) refuse them
before any byte leaves the process (a local listener records every request it gets: it must get none).
"""

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tallyhold.egress.protocol import EgressConfig
from tallyhold.exchanges.denylist import CANCEL_ALL, KEY_CHANGING, denied
from tallyhold.exchanges.guard import Endpoint, ForbiddenRequest, TransportGuard, endpoints_of
from tallyhold.exchanges.key import ExchangeKey
from tallyhold.exchanges.registry import ADAPTERS
from tallyhold.exchanges.session import ForbiddenCall, exchange_class, open_session

VENUES = sorted(
    {
        "binance",
        "coinbase",
        "kraken",
        "bybit",
        "okx",
        "kucoin",
        "bitget",
        "gemini",
        "gate",
        "htx",
        "mexc",
        "bitstamp",
        "bitvavo",
        "cryptocom",
        "onetrading",
    }
)
# What a key-management endpoint looks like in ccxt's declarations (path, for a non-GET method).
KEY_MANAGEMENT = re.compile(
    r"(sub.?api|api.?key|apikey|update-api|delete-api|revoke.?all|subAccountApi|(^|/)keys($|/))", re.I
)
# Credentials in each venue's own format, so that ccxt can sign the request the guard must stop.
KRAKEN_SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=="


def declared_entries(venue: str) -> list[tuple[str, Any]]:
    from ccxt.base.types import Entry

    klass = exchange_class(venue)
    seen: dict[int, tuple[str, Any]] = {}
    for klass_ in klass.__mro__:
        for name, value in vars(klass_).items():
            if isinstance(value, Entry) and re.search(r"[A-Z]", name) and id(value) not in seen:
                seen[id(value)] = (name, value)
    return list(seen.values())


@pytest.mark.parametrize("venue", VENUES)
def test_every_key_management_endpoint_of_ccxt_is_pinned(venue):
    found = {
        name
        for name, entry in declared_entries(venue)
        if entry.method != "GET"
        and KEY_MANAGEMENT.search(entry.path)
        and entry.path != "GetApiKeyInfo"
        and "xpub_registrations" not in entry.path
    }
    assert found <= set(KEY_CHANGING.get(venue, ())), (
        f"pin these in denylist.py: {sorted(found - set(KEY_CHANGING.get(venue, ())))}"
    )


def test_the_named_examples_are_pinned():
    assert "privatePostRevokeAllApiKeys" in KEY_CHANGING["bitstamp"]
    assert "spotPrivatePostApiKeyInfo" in KEY_CHANGING["mexc"]
    assert "privatePostV5UserDeleteApi" in KEY_CHANGING["bybit"]
    assert "privateDeleteOrders" in CANCEL_ALL["bitvavo"]


@pytest.mark.parametrize("venue", VENUES)
def test_pinned_names_are_real_ccxt_methods(venue):
    # A typo here would pin nothing: every name must resolve to a ccxt declaration.
    assert len(endpoints_of(exchange_class(venue), sorted(denied(venue)))) == len(denied(venue))


@pytest.mark.parametrize("venue", sorted(ADAPTERS))
def test_no_adapter_declares_a_denied_method(venue):
    adapter = ADAPTERS[venue]
    assert not adapter.methods & denied(venue)
    assert not adapter.methods & set(denied(venue))
    # and every declared method is a read: GET, or a POST that ccxt declares for a read-only venue API
    for endpoint in endpoints_of(exchange_class(venue), adapter.methods):
        assert endpoint not in set(endpoints_of(exchange_class(venue), denied(venue)))


@pytest.mark.parametrize("venue", VENUES)
def test_the_transport_guard_refuses_every_denied_endpoint(venue):
    klass = exchange_class(venue)
    adapter = ADAPTERS.get(venue)
    guard = TransportGuard(endpoints_of(klass, adapter.methods if adapter else ()), endpoints_of(klass, denied(venue)))
    for endpoint in endpoints_of(klass, denied(venue)):
        path = re.sub(r"\{[^}]+\}", "1", endpoint.template)
        with pytest.raises(ForbiddenRequest):
            guard.check(endpoint.method, f"https://api.example.test/api/v3/{path}")


def test_guard_matching():
    guard = TransportGuard(
        [Endpoint("GET", "v1/account/accounts/{account-id}/balance"), Endpoint("DELETE", "order")],
        [Endpoint("DELETE", "orders")],
    )
    guard.check("GET", "http://127.0.0.1:1/v1/account/accounts/123/balance?x=1")
    guard.check("DELETE", "http://127.0.0.1:1/v2/order?orderId=0")
    for method, url in [
        ("DELETE", "http://127.0.0.1:1/v2/orders"),  # cancel-all: denied
        ("POST", "http://127.0.0.1:1/v2/order"),  # same path, other verb
        ("GET", "http://127.0.0.1:1/v1/account/accounts/123/balance/extra"),
        ("GET", "http://127.0.0.1:1/v1/account/accounts/1/2/balance"),  # a placeholder is one segment
        ("DELETE", "http://127.0.0.1:1/v2/neworder"),  # suffix must start at a segment boundary
    ]:
        with pytest.raises(ForbiddenRequest):
            guard.check(method, url)


@pytest.fixture(scope="module")
async def listener() -> AsyncIterator[tuple[str, list[str]]]:
    """A plain HTTP listener on 127.0.0.1 that records what reaches it (nothing should)."""
    seen: list[str] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path}")
        return web.json_response({})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


def wire_key(venue: str) -> ExchangeKey:
    secret = KRAKEN_SECRET if venue == "kraken" else "s3cr3t-" + "a" * 40
    api_key = "account-" + "b" * 20 if venue == "gemini" else "k3y-" + "b" * 40  # Gemini account keys say so
    return ExchangeKey(api_key=api_key, api_secret=secret, passphrase="pa55phrase", uid="12345678")


@pytest.mark.parametrize("venue", sorted(ADAPTERS))
async def test_denied_methods_never_leave_the_process(venue, listener):
    base, seen = listener
    seen.clear()
    config = EgressConfig(customer_id="t_0000", exchange_api_overrides={venue: base})
    async with open_session(ADAPTERS[venue], wire_key(venue), config) as api:
        for name in sorted(denied(venue)):
            with pytest.raises(ForbiddenCall):
                await api.call(name)
            # Past the name check (as if an adapter held the raw ccxt object): the transport guard stops it.
            with pytest.raises(ForbiddenRequest):
                await getattr(api._exchange, name)({"subAccountId": "1", "user_id": "1", "key": "k", "id": "0"})
        # An undeclared read is refused too: default deny, not a denylist alone.
        with pytest.raises(ForbiddenCall):
            await api.call("fetchBalance")
    assert seen == []
