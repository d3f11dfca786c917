"""Every flow of the customer's web pages, in Debian's Chromium against a running instance on sandbox data."""

from __future__ import annotations

import re
import secrets
import time
from decimal import Decimal

import httpx

from tallyhold_sandbox.credentials import generate
from tests.tracker.web.conftest import Served, Visit

EVM_ADDRESS = "0x" + "ab" * 20
PRIVATE_KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


def sync_all(api: httpx.Client) -> None:
    assert api.post("/v1/sync").status_code == 202
    deadline = time.monotonic() + 60
    while api.get("/v1/sync/status").json()["running"]:
        assert time.monotonic() < deadline, "the sync did not end"
        time.sleep(0.1)


def _total(visit: Visit) -> Decimal:
    return Decimal(visit.page.get_attribute("#networth-total data", "value") or "nan")


def test_sign_in_shows_the_apis_total_and_history_chart(visit: Visit, served: Served, clean: None) -> None:
    token = served.token()
    visit.goto("/")
    assert visit.page.url == served.url + "/sign-in"
    visit.shoot("sign-in")
    visit.sign_in(token)
    with served.api(token) as api:
        api.post("/v1/connections/manual", json={"label": "Savings", "asset": "USD", "amount": "12345.678"})
        api.post("/v1/connections/manual", json={"label": "Gold", "asset": "XAU", "amount": "2", "price": "2400.5"})
        sync_all(api)  # writes the first history point
        networth = api.get("/v1/networth").json()
    visit.goto("/")
    assert _total(visit) == Decimal(networth["total"])
    assert visit.page.text_content("#networth-total") == "$17,146.68"
    visit.page.wait_for_selector("#chart[data-drawn]", state="attached")
    assert int(visit.page.get_attribute("#chart", "data-drawn") or "0") >= 1
    assert visit.page.locator("#chart canvas").count() == 1
    visit.shoot("dashboard")


def test_add_a_read_only_key_and_see_a_trading_key_refused(visit: Visit, served: Served, clean: None) -> None:
    visit.sign_in(served.token())
    trading = generate("binance")
    served.binance.add_key(trading.api_key, trading.secret, permissions=["read", "trade", "withdraw"])
    visit.goto("/connections/new/exchange?exchange=binance")
    assert "Enable Reading" in (visit.page.text_content(".guidance") or "")
    visit.page.fill("#api_key", trading.api_key)
    visit.page.fill("#api_secret", trading.secret)
    visit.page.click("main button[type=submit]")
    refusal = visit.page.text_content("#refusal") or ""
    assert "Enable Spot & Margin Trading" in refusal
    assert "Enable Withdrawals" in refusal
    assert visit.page.input_value("#api_key") == ""
    assert visit.page.input_value("#api_secret") == ""
    assert trading.secret not in visit.page.content()
    visit.shoot("exchange-refused")

    read_only = generate("binance")
    served.binance.add_key(read_only.api_key, read_only.secret, balances={"spot": {"BTC": "0.5"}})
    visit.page.fill("#api_key", read_only.api_key)
    visit.page.fill("#api_secret", read_only.secret)
    visit.page.click("main button[type=submit]")
    visit.page.wait_for_url(re.compile(r".*/connections\?done=added$"))
    card = visit.page.text_content(".card") or ""
    assert "verified read-only by the exchange" in card
    assert read_only.api_key[-4:] in card
    assert "203.0.113.7" in card  # not IP-restricted: the allowlist to set
    visit.shoot("connections")


def test_add_a_wallet_and_a_pasted_private_key_is_refused(visit: Visit, served: Served, clean: None) -> None:
    visit.sign_in(served.token())
    visit.goto("/connections/new/wallet")
    visit.page.select_option("#chain", "ethereum")
    visit.page.fill("#address", PRIVATE_KEY)
    visit.page.click("main button[type=submit]")
    assert "private key" in (visit.page.text_content("#refusal") or "")
    assert visit.page.input_value("#address") == ""
    assert PRIVATE_KEY[2:] not in visit.page.content()
    visit.shoot("wallet-refused")
    visit.page.fill("#address", EVM_ADDRESS)
    visit.page.fill("#label", "Cold wallet")
    visit.page.click("main button[type=submit]")
    visit.page.wait_for_url(re.compile(r".*/connections\?done=added$"))
    assert "Cold wallet" in (visit.page.text_content(".cards") or "")


def test_add_and_edit_a_manual_holding_then_delete_it(visit: Visit, served: Served, clean: None) -> None:
    token = served.token()
    visit.sign_in(token)
    visit.goto("/connections/new/manual")
    visit.shoot("manual-form")
    visit.page.fill("#label", "Cash")
    visit.page.fill("#asset", "USD")
    visit.page.fill("#amount", "1000")
    visit.page.click("main button[type=submit]")
    visit.page.wait_for_url(re.compile(r".*/connections\?done=added$"))
    visit.page.click("text=Edit")
    visit.page.fill("#amount", "2500.5")
    visit.shoot("edit-form")
    visit.page.click("main button[type=submit]")
    visit.page.wait_for_url(re.compile(r".*/connections\?done=saved$"))
    with served.api(token) as api:
        assert api.get("/v1/networth").json()["total"] == "2500.5"
    visit.page.click("text=Delete")
    visit.shoot("delete-confirm")
    visit.page.click("main button.danger")
    visit.page.wait_for_url(re.compile(r".*/connections\?done=deleted$"))
    with served.api(token) as api:
        assert api.get("/v1/connections").json()["items"] == []


def test_sync_now_shows_progress_until_the_sync_ends(visit: Visit, served: Served, clean: None) -> None:
    token = served.token()
    key = generate("binance")
    served.binance.add_key(key.api_key, key.secret, balances={"spot": {"BTC": "0.25"}})
    with served.api(token) as api:
        created = api.post(
            "/v1/connections/exchange",
            json={"exchange": "binance", "label": "Main", "api_key": key.api_key, "api_secret": key.secret},
        )
        assert created.status_code == 201, created.text
    visit.sign_in(token)
    visit.page.click("#sync-form button")
    visit.page.wait_for_url(re.compile(r".*/\?sync=started$"))
    visit.page.wait_for_selector("#sync-progress[data-finished]", state="attached", timeout=60_000)
    visit.page.wait_for_url(served.url + "/")
    assert "Main" in (visit.page.text_content("#sources") or "")
    with served.api(token) as api:
        networth = api.get("/v1/networth").json()
    assert networth["unpriced"] == []  # BTC priced from the sandbox's tickers, and the page shows the same total
    assert _total(visit) == Decimal(networth["total"])
    visit.shoot("dashboard-synced")


def test_replace_a_key(visit: Visit, served: Served, clean: None) -> None:
    token = served.token()
    old, new = generate("binance"), generate("binance")
    for key in (old, new):
        served.binance.add_key(key.api_key, key.secret)
    with served.api(token) as api:
        api.post(
            "/v1/connections/exchange",
            json={"exchange": "binance", "label": "Main", "api_key": old.api_key, "api_secret": old.secret},
        )
    visit.sign_in(token)
    visit.goto("/connections")
    visit.page.click("text=Replace key")
    visit.page.fill("#api_key", new.api_key)
    visit.page.fill("#api_secret", new.secret)
    visit.shoot("replace-key")
    visit.page.click("main button[type=submit]")
    visit.page.wait_for_url(re.compile(r".*/connections\?done=replaced$"))
    assert new.api_key[-4:] in (visit.page.text_content(".card") or "")


def test_sign_out_ends_the_session_server_side(visit: Visit, served: Served, clean: None) -> None:
    visit.sign_in(served.token())
    cookie = next(c for c in visit.context.cookies() if c["name"] == "__Host-tallyhold_session")
    visit.page.click("text=Sign out")
    visit.page.wait_for_url(served.url + "/sign-in")
    # The old cookie, replayed, no longer opens anything.
    replayed = httpx.get(served.url + "/", headers={"Cookie": f"{cookie['name']}={cookie['value']}"})
    assert replayed.status_code == 303
    assert replayed.headers["location"] == "/sign-in"


def test_a_wrong_token_is_refused_on_the_sign_in_page(visit: Visit, served: Served, clean: None) -> None:
    wrong = "th_" + secrets.token_hex(6) + "_" + secrets.token_urlsafe(32)[:43]
    visit.goto("/sign-in")
    visit.page.fill("#token", wrong)
    visit.page.click("main button[type=submit]")
    assert "not valid" in (visit.page.text_content("#sign-in-error") or "")
    assert visit.page.input_value("#token") == ""
    assert wrong not in visit.page.content()


def test_an_unverifiable_venue_asks_for_the_acknowledgement(visit: Visit, served: Served, clean: None) -> None:
    visit.sign_in(served.token())
    visit.goto("/connections/new/exchange?exchange=binance")
    assert visit.page.locator("input[name=acknowledge_unverifiable]").count() == 0
    visit.goto("/connections/new/exchange?exchange=bitstamp")
    acknowledgement = visit.page.locator("input[name=acknowledge_unverifiable]")
    assert acknowledgement.get_attribute("required") is not None
    assert "cannot prove the key is read-only" in (visit.page.text_content(".ack legend") or "")
    visit.shoot("exchange-unverifiable")
    # Sent without it anyway (the browser's `required` taken off), the server refuses the key itself.
    visit.page.fill("#api_key", "bitstamp-key-123456")
    visit.page.fill("#api_secret", "bitstamp-secret-123456")
    visit.page.evaluate("document.querySelector('input[name=acknowledge_unverifiable]').removeAttribute('required')")
    visit.page.click("main button[type=submit]")
    assert "unverifiable_permissions" in (visit.page.text_content("#refusal") or "")


def test_an_unknown_connection_is_an_html_page(visit: Visit, served: Served, clean: None) -> None:
    visit.sign_in(served.token())
    for path, status in (("/connections/00000000-0000-0000-0000-000000000000/edit", 404), ("/connections/x/edit", 422)):
        response = visit.page.goto(served.url + path)
        assert response is not None
        assert response.status == status
        assert response.headers["content-type"].startswith("text/html")
    with httpx.Client(base_url=served.url) as api:
        assert api.get("/v1/connections/x").headers["content-type"] == "application/json"
