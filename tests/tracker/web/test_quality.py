"""Every page, with data on it: axe-core (from npm) finds no serious or critical accessibility violation at desktop
or phone width; and the canary sweep: secrets typed into every secret field and refused by every flow appear in
no page, header, redirect, URL, cookie or log line."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import urllib.parse
from typing import Any

import pytest
from playwright.sync_api import Browser

from tallyhold_sandbox.credentials import generate
from tests.tracker.web.conftest import DESKTOP, PHONE, ROOT, Served, Visit
from tests.tracker.web.test_flows import EVM_ADDRESS, sync_all

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}


def _populate(served: Served, token: str) -> dict[str, str]:
    key = generate("binance")
    served.binance.add_key(key.api_key, key.secret, balances={"spot": {"BTC": "0.5", "USDT": "1200"}})
    with served.api(token) as api:
        exchange = api.post(
            "/v1/connections/exchange",
            json={"exchange": "binance", "label": "Main", "api_key": key.api_key, "api_secret": key.secret},
        ).json()
        api.post("/v1/connections/wallet", json={"chain": "ethereum", "address": EVM_ADDRESS, "label": "Cold"})
        manual = api.post("/v1/connections/manual", json={"label": "Cash", "asset": "USD", "amount": "5000"}).json()
        sync_all(api)
    return {"exchange": exchange["id"], "manual": manual["id"]}


def _pages(ids: dict[str, str]) -> list[str]:
    return [
        "/",
        "/?range=1y",
        "/connections",
        "/connections/new/exchange",
        "/connections/new/exchange?exchange=okx",
        "/connections/new/exchange?exchange=bitstamp",
        "/connections/new/wallet",
        "/connections/new/manual",
        f"/connections/{ids['manual']}/edit",
        f"/connections/{ids['exchange']}/key",
        f"/connections/{ids['exchange']}/delete",
    ]


def test_no_serious_or_critical_accessibility_violation(browser: Browser, served: Served, clean: None) -> None:
    token = served.token()
    ids = _populate(served, token)
    # axe is injected as an inline script, which the pages' own CSP forbids: this context alone bypasses it.
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    axe = AXE.read_text()
    found: list[str] = []
    try:
        for path in ["/sign-in"]:
            page.goto(served.url + path)
            found += _axe(page, axe, path)
        page.fill("#token", token)
        page.click("main button[type=submit]")
        page.wait_for_url(served.url + "/")
        for size in (DESKTOP, PHONE):
            page.set_viewport_size(size)
            for path in _pages(ids):
                page.goto(served.url + path)
                found += _axe(page, axe, f"{path} at {size['width']} px")
    finally:
        context.close()
    assert found == []


def _axe(page: Any, source: str, where: str) -> list[str]:
    page.add_script_tag(content=source)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{where}: {violation['id']} ({violation['impact']}): {[n['target'] for n in violation['nodes']]}"
        for violation in result["violations"]
        if violation["impact"] in BLOCKING
    ]


def _variants(value: str) -> list[str]:
    raw = value.encode()
    return [
        value,
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        json.dumps(value)[1:-1],
        raw.hex(),
    ]


def test_canary_sweep_over_every_page(
    visit: Visit, served: Served, clean: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = served.token()
    ids = _populate(served, token)
    canaries = {
        "api_key": f"cnryK{secrets.token_hex(16)}",
        "api_secret": f"cnryS{secrets.token_hex(16)}",
        "passphrase": f"cnryP{secrets.token_hex(16)}",
        "private_key": secrets.token_hex(32),
        "sign_in": f"th_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}",
    }
    # A wrong token on the sign-in page.
    visit.goto("/sign-in")
    visit.page.fill("#token", canaries["sign_in"])
    visit.page.click("main button[type=submit]")
    visit.page.wait_for_selector("#sign-in-error")
    pages = [visit.page.content()]
    visit.sign_in(token)
    # An unknown key, on a venue with a passphrase, refused; the same for a replacement.
    visit.goto("/connections/new/exchange?exchange=okx")
    for field in ("api_key", "api_secret", "passphrase"):
        visit.page.fill(f"#{field}", canaries[field])
    visit.page.click("main button[type=submit]")
    visit.page.wait_for_selector("#refusal")
    pages.append(visit.page.content())
    visit.goto(f"/connections/{ids['exchange']}/key")
    visit.page.fill("#api_key", canaries["api_key"])
    visit.page.fill("#api_secret", canaries["api_secret"])
    visit.page.click("main button[type=submit]")
    visit.page.wait_for_selector("#refusal")
    pages.append(visit.page.content())
    # A private key pasted as a wallet address, and as a holding's label.
    visit.goto("/connections/new/wallet")
    visit.page.fill("#address", canaries["private_key"])
    visit.page.click("main button[type=submit]")
    visit.page.wait_for_selector("#refusal")
    pages.append(visit.page.content())
    visit.goto("/connections/new/manual")
    visit.page.fill("#label", canaries["private_key"])
    visit.page.fill("#asset", "USD")
    visit.page.fill("#amount", "1")
    visit.page.click("main button[type=submit]")
    visit.page.wait_for_selector("#refusal")
    pages.append(visit.page.content())
    # Then every page once more.
    for path in _pages(ids):
        visit.goto(path)
        pages.append(visit.page.content())
        stable = path.replace(ids["manual"], "manual").replace(ids["exchange"], "exchange")
        visit.shoot("sweep" + stable.replace("/", "_").replace("?", "_").replace("=", "-"))

    seen: list[str] = list(visit.requests) + pages  # every URL the browser asked for (redirects too), every page
    for response in visit.responses:
        seen.append(response.url)
        seen.append(json.dumps(response.headers))
    seen += [json.dumps(cookie) for cookie in visit.context.cookies()]
    seen += [record.getMessage() + json.dumps(record.__dict__, default=str) for record in caplog.records]
    haystack = "\n".join(seen)
    leaks = [(name, form) for name, value in canaries.items() for form in _variants(value) if form in haystack]
    assert leaks == []
    assert len(seen) > 50  # the sweep saw the pages it meant to
