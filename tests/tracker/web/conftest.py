"""A running instance for the web pages, served over real HTTP by uvicorn on a free loopback port (the sandbox's
Binance and a local anvil behind it), and Debian's Chromium driven by Playwright. Screenshots go to
`.artifacts/web/` in the checkout (git-ignored) so a person can look at every page."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, ViewportSize, sync_playwright

from tallyhold.app import create_app
from tallyhold.settings import Settings
from tallyhold.web.rendering import CONTENT_SECURITY_POLICY
from tallyhold_provision.local.ports import free_port
from tallyhold_sandbox import SandboxThread, VenueControl
from tests.fixtures.chain import Anvil
from tests.fixtures.instance import FAST_EGRESS, empty_tenant, instance_settings, issue_token
from tests.fixtures.platform import Tenant
from tests.fixtures.vault import VaultTenant

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / ".artifacts" / "web"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# No background traffic of the browser's own (updates, sync, QUIC probes): only the pages' requests go out.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
EGRESS_IP = "203.0.113.7"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}


T = TypeVar("T")


def in_thread(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Runs a coroutine to completion in a thread of its own: Playwright's sync API keeps an event loop running
    in the test's thread, where `asyncio.run` (and pytest-asyncio's fixtures) cannot start another."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


@dataclass
class Served:
    url: str
    settings: Settings
    binance: VenueControl
    binance_url: str

    def token(self, label: str = "web") -> str:
        return in_thread(lambda: issue_token(self.settings, label))

    def api(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


@pytest.fixture(scope="module")
def venues() -> Iterator[SandboxThread]:
    with SandboxThread(["binance"]) as running:
        yield running


@pytest.fixture(scope="module")
def anvil() -> Iterator[Anvil]:
    chain = Anvil(chain_id=1).start()
    yield chain
    chain.stop()


@pytest.fixture(scope="module")
def served_overrides() -> dict[str, Any]:
    """Settings a test module wants on its instance (overridden per module)."""
    return {}


@pytest.fixture(scope="module")
def served(
    tenant: Tenant, vault_tenant: VaultTenant, venues: SandboxThread, anvil: Anvil, served_overrides: dict[str, Any]
) -> Iterator[Served]:
    assert venues.sandbox is not None
    binance_url = venues.sandbox.url("binance")
    settings = instance_settings(
        tenant,
        **vault_tenant.settings(),
        EXCHANGE_API_OVERRIDES={"binance": binance_url},
        PRICE_VENUES="binance",
        EVM_RPC_ETHEREUM=anvil.url,
        EGRESS_IPS=EGRESS_IP,
        EGRESS_OPTIONS=FAST_EGRESS,
        LOG_LEVEL="DEBUG",
        **served_overrides,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="web-instance", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive(), "the instance exited at start-up"
        assert time.monotonic() < deadline, "the instance did not start"
        time.sleep(0.05)
    binance = venues.sandbox.control("binance")
    binance.set_tickers({"BTC/USDT": "60000", "ETH/USDT": "3000", "USDT/USD": "1.0001"})
    yield Served(f"http://127.0.0.1:{port}", settings, binance, binance_url)
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
    yield launched
    launched.close()


@dataclass
class Visit:
    """One browser context on the instance, recording every request it makes and every response it gets."""

    context: BrowserContext
    page: Page
    requests: list[str]
    responses: list[Any]
    base: str

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path)

    def shoot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for size_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
            self.page.set_viewport_size(size)
            self.page.screenshot(path=str(ARTIFACTS / f"{name}-{size_name}.png"), full_page=True)
        self.page.set_viewport_size(DESKTOP)

    def sign_in(self, token: str) -> None:
        self.goto("/")
        self.page.fill("#token", token)
        self.page.click("main button[type=submit]")
        self.page.wait_for_url(self.base + "/")


@pytest.fixture
def visit(browser: Browser, served: Served) -> Iterator[Visit]:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    requests: list[str] = []
    responses: list[Any] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("response", lambda response: responses.append(response))
    yield Visit(context, page, requests, responses, served.url)
    # Whatever the test did: no request left the instance's origin, and every page carried the strict CSP.
    foreign = [url for url in requests if not url.startswith(served.url + "/") and not url.startswith("data:")]
    assert foreign == []
    for response in responses:
        if response.headers.get("content-type", "").startswith("text/html"):
            assert response.headers.get("content-security-policy") == CONTENT_SECURITY_POLICY, response.url
    context.close()


@pytest.fixture
def clean(served: Served, tenant: Tenant) -> None:
    """The tenant's tables emptied before a test (what `clean_tenant` does, outside Playwright's event loop)."""

    in_thread(lambda: empty_tenant(served.settings, tenant))
