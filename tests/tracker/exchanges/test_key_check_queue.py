"""A key check in a busy egress pool: it takes its place in the pool's queue for the venue's per-IP budget and
waits for its turn, up to `key_check_budget_wait` in all; a turn further off is answered 503
`exchange_budget_busy` with Retry-After, the venue is not asked and nothing is stored.

The instance is the real one (API, verifier, egress worker, OpenBao cipher, the sandbox Binance); the sharer ahead
of it is another customer's role in the same egress pool, asking `egress_budget.acquire` as its instance would.
Windows are shortened (`venue_limit`); what is checked is the order of the grants, never a duration."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime

import httpx
import psycopg
import pytest

from tallyhold.settings import Settings
from tallyhold_sandbox import Sandbox
from tests.fixtures.egress_budget import venue_limit
from tests.fixtures.instance import fast_egress, sandbox_settings
from tests.fixtures.platform import DATABASE, Tenant, create_tenant, drop_tenant
from tests.fixtures.sandbox import new_key
from tests.fixtures.vault import VaultTenant
from tests.tracker.sync.helpers import key_requests

BUDGET = 400  # the pool's Binance budget per window in these tests; a sharer asks for all of it at once
ASK = "SELECT wait_seconds FROM egress_budget.acquire('binance', %s)"


@pytest.fixture(scope="module")
def settings(tenant: Tenant, vault_tenant: VaultTenant, sandbox: Sandbox) -> Settings:
    # A sync would give up a wait longer than 0.1 s; a key check waits up to 30 s in all. The worker's deadline
    # leaves room for that wait.
    egress = fast_egress(budget_wait_max=0.1, key_check_budget_wait=30, deadline=60)
    return sandbox_settings(tenant, vault_tenant, sandbox, EGRESS_OPTIONS=egress)


@pytest.fixture
def sharer(tenant: Tenant) -> Iterator[Tenant]:
    """Another customer in the instance's egress pool, with the pool's queue and windows emptied first."""
    with tenant.postgres.connect(DATABASE) as admin:
        row = admin.execute(
            "SELECT pool FROM egress_budget.sharer WHERE role_name = %s", (tenant.names.app_role,)
        ).fetchone()
        assert row is not None
        for table in ("venue_window", "spend", "place"):
            admin.execute(f"DELETE FROM egress_budget.{table} WHERE pool = %s", (row[0],))
    other = create_tenant(tenant.postgres, migrate=False, egress_pool=str(row[0]))
    try:
        yield other
    finally:
        drop_tenant(other)


def queue_behind_a_spent_window(sharer: Tenant) -> None:
    """The sharer spends the whole window, then asks for the whole next one: it waits, first in the queue."""
    with psycopg.connect(sharer.app_url, autocommit=True) as conn:
        assert conn.execute(ASK, (BUDGET,)).fetchone() == (0.0,)
        assert (conn.execute(ASK, (BUDGET,)).fetchone() or (0.0,))[0] > 0


async def take_turn_when_told(sharer: Tenant) -> None:
    """What the sharer's instance does when told to come back: it comes back then, until it is granted."""
    async with await psycopg.AsyncConnection.connect(sharer.app_url, autocommit=True) as conn:
        while True:
            row = await (await conn.execute(ASK, (BUDGET,))).fetchone()
            assert row is not None
            if row[0] == 0:
                return
            await asyncio.sleep(row[0])


def own_rows(tenant: Tenant, table: str, column: str) -> list[object]:
    """`column` of `tenant`'s role's Binance rows in a table of the pool (as the provisioner's role sees them)."""
    with tenant.postgres.connect(DATABASE) as admin:
        rows = admin.execute(
            f"SELECT t.{column} FROM egress_budget.{table} t JOIN egress_budget.sharer s ON s.id = t.sharer "
            "WHERE s.role_name = %s AND t.venue = 'binance' ORDER BY 1",
            (tenant.names.app_role,),
        ).fetchall()
    return [row[0] for row in rows]


def grant_windows(tenant: Tenant) -> list[datetime]:
    """The windows in which the pool granted `tenant`'s role anything, in order."""
    return [start for start in own_rows(tenant, "spend", "window_start") if isinstance(start, datetime)]


def read_only_key(sandbox: Sandbox) -> dict[str, str]:
    api_key, secret = new_key("check"), new_key("secret")
    sandbox.control("binance").add_key(api_key, secret, permissions=["read"], balances={"spot": {"BTC": "1"}})
    return {"exchange": "binance", "label": "Binance", "api_key": api_key, "api_secret": secret}


async def test_a_key_check_behind_a_queued_sharer_waits_for_its_turn_and_succeeds(
    client: httpx.AsyncClient, sandbox: Sandbox, tenant: Tenant, sharer: Tenant
) -> None:
    """The window is spent and a sharer waits for the whole next one: the check's turn is the window after,
    further off than a sync waits (0.1 s) but within what a check waits. It waits, goes out after the sharer,
    and the key is stored."""
    with venue_limit(tenant.postgres, "binance", BUDGET, 2):
        queue_behind_a_spent_window(sharer)
        turn = asyncio.create_task(take_turn_when_told(sharer))
        response = await client.post("/v1/connections/exchange", json=read_only_key(sandbox))
        await turn
        assert response.status_code == 201, response.text
        sharer_windows, check_windows = grant_windows(sharer), grant_windows(tenant)
    # (The pool forgets a window's counts once it is two windows old: the sharer's turn is what remains of it.)
    assert sharer_windows, "the sharer was granted its turn"
    assert check_windows, "the check was granted"
    assert min(check_windows) > max(sharer_windows), "the check went out in a window after the sharer's turn"
    assert [c["label"] for c in (await client.get("/v1/connections")).json()["items"]] == ["Binance"]


async def test_a_key_check_goes_ahead_of_a_queued_sharer_in_the_pool_s_interactive_lane(
    client: httpx.AsyncClient, sandbox: Sandbox, tenant: Tenant, sharer: Tenant
) -> None:
    """Hour-long windows with a lane of 10: the sharer spends all the queue may, then waits in the queue for the
    next hour. The key check is granted in this very window, ahead of it, out of the lane."""
    lane = 10
    with venue_limit(tenant.postgres, "binance", BUDGET, 3600, max_weight=BUDGET // 2, interactive_reserve=lane):
        with psycopg.connect(sharer.app_url, autocommit=True) as conn:
            for weight in (BUDGET // 2, BUDGET // 2 - lane):
                assert conn.execute(ASK, (weight,)).fetchone() == (0.0,)
            assert (conn.execute(ASK, (1,)).fetchone() or (0.0,))[0] > 0
        response = await client.post("/v1/connections/exchange", json=read_only_key(sandbox))
        assert response.status_code == 201, response.text
        assert grant_windows(tenant) == grant_windows(sharer), "in the window the sharer waits beyond"
        assert own_rows(sharer, "place", "wanted") == [1], "the sharer still waits, first in the queue"


async def test_a_key_check_whose_turn_is_beyond_the_bound_is_answered_busy_and_nothing_is_stored(
    client: httpx.AsyncClient, sandbox: Sandbox, tenant: Tenant, sharer: Tenant
) -> None:
    """Hour-long windows: the check's turn is two windows away, far beyond the 30 s a check waits. The answer is
    503 `exchange_budget_busy` with the turn as Retry-After (not the venue failing), the venue never sees the
    key, nothing is stored, and the instance keeps its place in the queue for when the customer tries again."""
    key = read_only_key(sandbox)
    venue = sandbox.control("binance")
    seq = venue.last_seq()
    with venue_limit(tenant.postgres, "binance", BUDGET, 3600):
        queue_behind_a_spent_window(sharer)
        response = await client.post("/v1/connections/exchange", json=key)
        waiting_for = own_rows(tenant, "place", "wanted")
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "exchange_budget_busy"
    assert response.headers["Retry-After"] == str(error["retry_after"])
    assert error["retry_after"] > 3600, "after the sharer's whole window"
    assert key["api_key"] not in response.text
    assert key["api_secret"] not in response.text
    assert key_requests(venue, key["api_key"], seq) == [], "the venue was not asked"
    assert (await client.get("/v1/connections")).json()["items"] == []
    assert grant_windows(tenant) == []
    assert waiting_for == [1], "its place in the queue, waiting for the check's weight, is kept for the retry"
