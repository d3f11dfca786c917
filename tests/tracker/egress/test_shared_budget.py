"""The exchange budget shared by every instance of one egress pool, end to end: N customers' egress workers (real
subprocesses, each asking its own role's budget on the real Postgres) against one sandbox Binance that enforces a
per-IP request-weight limit, as Binance does (429, then 418 for whoever keeps sending).

Binance's real window is a minute; here the venue's limit and the pool's budget use a window of seconds, so
that several windows pass in one test. Nothing here measures time."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import event
from sqlalchemy.engine import Connection

from tallyhold.egress.protocol import EgressError
from tallyhold.exchanges.venues.binance import Binance
from tallyhold_provision.egress_budget import withdraw
from tallyhold_provision.local.postgres import LocalPostgres
from tallyhold_sandbox import Sandbox
from tests.fixtures.egress_budget import Instance, instances, new_pool, venue_limit

LIMIT = 1000  # the sandbox venue's weight per IP per window
WINDOW = 3
BUDGET = int(LIMIT * 0.8)  # what the pool plans to spend (the adapters' PLANNED_SHARE)
INSTANCES = 4
SYNCS_EACH = 2
# One balances sync weighs what its wallet reads weigh (Binance's published weights, in the adapter).
SYNC_WEIGHT = sum(Binance.weights.values()) - Binance.weights["sapiGetAccountApiRestrictions"]


def waited(reason: str) -> float:
    """`tallyhold_egress_budget_wait_seconds_total` of this process (the API side of every client here)."""
    labels = {"venue": "binance", "reason": reason}
    return REGISTRY.get_sample_value("tallyhold_egress_budget_wait_seconds_total", labels) or 0.0


async def test_the_control_one_ip_without_a_shared_budget_is_banned(postgres: LocalPostgres) -> None:
    """Without the shared budget, the same customers syncing at once spend the IP's limit between them and
    keep sending after the venue's 429: the venue bans the IP (418), for all of them."""
    assert INSTANCES * SYNC_WEIGHT > LIMIT  # what the instances ask in one go is more than the IP may spend
    async with Sandbox(["binance"]) as sandbox:
        control = sandbox.control("binance")
        control.limit_ip_weight(LIMIT, window_seconds=WINDOW, ban_seconds=1)
        async with instances(postgres, sandbox, INSTANCES, pool=new_pool(), shared_budget=False) as customers:
            with venue_limit(postgres, "binance", BUDGET, WINDOW):
                for _ in range(5):  # a round whose requests straddle two windows may stay under the limit
                    await asyncio.gather(*(c.balances() for c in customers), return_exceptions=True)
                    if control.ip_weight_stats()["banned"]:
                        break
        assert control.ip_weight_stats()["banned"] > 0


async def test_customers_sharing_the_budget_are_never_banned(postgres: LocalPostgres) -> None:
    """The same customers and more load (each syncs twice) through the shared budget: every sync succeeds,
    the venue never answers 429 or 418, and no window of the venue sees more than the pool's budget."""
    async with Sandbox(["binance"]) as sandbox:
        control = sandbox.control("binance")
        control.limit_ip_weight(LIMIT, window_seconds=WINDOW, ban_seconds=1)
        async with instances(postgres, sandbox, INSTANCES, pool=new_pool()) as customers:
            with venue_limit(postgres, "binance", BUDGET, WINDOW):

                async def sync_twice(customer: Instance) -> None:
                    for _ in range(SYNCS_EACH):
                        assert (await customer.balances()).balances

                before = waited("window")
                await asyncio.gather(*(sync_twice(c) for c in customers))
                assert waited("window") > before  # the pool's budget, not luck, spread the load
        stats = control.ip_weight_stats()
        assert stats["rate_limited"] == 0
        assert stats["banned"] == 0
        assert stats["peak_used"] <= BUDGET
        assert INSTANCES * SYNCS_EACH * SYNC_WEIGHT > LIMIT  # one IP alone at this load would have been banned


async def test_a_ban_seen_by_one_customer_holds_every_customer_back(postgres: LocalPostgres) -> None:
    async with Sandbox(["binance"]) as sandbox:
        control = sandbox.control("binance")
        async with instances(postgres, sandbox, 3, pool=new_pool()) as (first, second, third):
            with venue_limit(postgres, "binance", BUDGET, 60):
                await second.balances()  # the pool works
                hint = first.key.api_key.get_secret_value()
                with control.fault("ban", api_key=hint, retry_after=300), pytest.raises(EgressError) as banned:
                    await first.balances()
                assert banned.value.code == "banned"
                since, before = control.last_seq(), waited("banned")
                for other in (second, third):
                    with pytest.raises(EgressError) as held:
                        await other.balances()
                    assert held.value.code == "banned"
                    assert held.value.failure.retry_after is not None
                    assert 0 < held.value.failure.retry_after <= 300
                # held back by the pool: not one request of theirs reached the venue
                assert control.requests(since) == []
                assert waited("banned") > before


async def test_another_pool_is_not_held_back(postgres: LocalPostgres) -> None:
    async with Sandbox(["binance"]) as sandbox:
        control = sandbox.control("binance")
        async with (
            instances(postgres, sandbox, 1, pool=new_pool()) as (banned,),
            instances(postgres, sandbox, 1, pool=new_pool(), mode="inprocess") as (elsewhere,),
        ):
            with venue_limit(postgres, "binance", BUDGET, 60):
                await banned.balances()
                key = banned.key.api_key.get_secret_value()
                with control.fault("ban", api_key=key, retry_after=300), pytest.raises(EgressError):
                    await banned.balances()
                assert (await elsewhere.balances()).balances


async def test_no_budget_no_request(postgres: LocalPostgres) -> None:
    """Fail closed: a customer whose role is not enrolled in any pool does not call the venue at all."""
    async with Sandbox(["binance"]) as sandbox:
        control = sandbox.control("binance")
        async with instances(postgres, sandbox, 1, pool=new_pool()) as (customer,):
            with postgres.connect("postgres") as admin:
                withdraw(admin, customer.tenant.names.app_role)
            since = control.last_seq()
            with pytest.raises(EgressError) as failed:
                await customer.balances()
            assert failed.value.code == "egress_budget_unavailable"
            assert failed.value.transient
            assert control.requests(since) == []


async def test_each_question_is_one_statement_in_autocommit(postgres: LocalPostgres) -> None:
    """A Binance sync asks the budget before each of its requests, so a question costs one round trip: the
    function's own statement, in autocommit (no BEGIN, no COMMIT; Postgres runs it as a transaction of its own)."""
    async with Sandbox(["binance"]) as sandbox:
        control = sandbox.control("binance")
        async with instances(postgres, sandbox, 1, pool=new_pool()) as (customer,):
            statements: list[tuple[str, bool]] = []
            commits: list[object] = []

            def executed(conn: Connection, cursor: object, statement: str, *_: object) -> None:
                statements.append((statement, bool(conn.connection.dbapi_connection.autocommit)))  # type: ignore[union-attr]  # a live connection

            event.listen(customer.engine.sync_engine, "before_cursor_execute", executed)
            event.listen(customer.engine.sync_engine, "commit", commits.append)
            since = control.last_seq()
            assert (await customer.balances()).balances
            sent = len(control.requests(since))
        assert sent > 1
        assert len(statements) == sent, "one statement per request sent"
        assert all("egress_budget.acquire" in sql and autocommit for sql, autocommit in statements)
        assert commits == []
