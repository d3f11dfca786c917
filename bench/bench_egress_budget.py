"""The exchange budget shared per egress IP: what asking it costs each exchange request.

Every request to a venue with a per-IP limit first runs `egress_budget.acquire` (one short transaction on the
shared Postgres). This measures that call through the instance's own `SharedBudget`, for one customer alone and
for eight customers of one pool asking at once (they serialise on the pool's row), against a budget too large
to make anyone wait: the figure is the overhead, not the pacing.

Then the pacing, at Binance's own numbers (4,800 weight a minute planned, the adapter's per-call weights): 25
customers of one pool each read a little (the spot account and the funding wallet) and want nothing more, and one
of them runs a whole balances sync (~350 weight, two Simple Earn lists at 150 each), waiting as the budget tells
it: how long that sync waits. The pool has nearly all its window left, so it should not wait at all.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from tallyhold.exchanges.shared_budget import SharedBudget
from tallyhold.exchanges.venues.binance import Binance
from tallyhold_provision.egress_budget import ensure_schema, set_venue_limit
from tallyhold_provision.local.postgres import LocalPostgres
from tests.fixtures.egress_budget import new_pool, tenant_engine
from tests.fixtures.platform import DATABASE, create_tenant

SHARERS = 8
CALLS_EACH = 200
CUSTOMERS_ON_A_HOST = 25  # the capacity bench's first step


async def _ask(budget: SharedBudget, latencies: list[float]) -> None:
    for _ in range(CALLS_EACH):
        started = time.perf_counter()
        grant = await budget.acquire("binance", 1)
        latencies.append(time.perf_counter() - started)
        assert grant.wait == 0


async def _run(budgets: list[SharedBudget]) -> tuple[float, list[float]]:
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(_ask(budget, latencies) for budget in budgets))
    return len(latencies) / (time.perf_counter() - started), latencies


async def _sync_among_idle_sharers(budgets: list[SharedBudget]) -> tuple[float, int]:
    """Every sharer but the last reads a little; the last runs a whole sync, call by call, sleeping as told.
    Returns the seconds it waited and how many of its calls were told to wait."""
    for budget in budgets[:-1]:
        for method in ("privateGetAccount", "sapiPostAssetGetFundingAsset"):
            assert (await budget.acquire("binance", Binance.weights[method])).wait == 0
    waited, refused = 0.0, 0
    for weight in Binance.weights.values():  # the adapter's order: the permission check, spot, then the wallets
        while (grant := await budgets[-1].acquire("binance", weight)).wait > 0:
            refused += 1
            waited += grant.wait
            await asyncio.sleep(grant.wait)
    return waited, refused


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="th-bench-budget-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        postgres = LocalPostgres(root / "postgres")
        postgres.start()
        try:
            pool = new_pool()
            tenants = [create_tenant(postgres, migrate=False, egress_pool=pool) for _ in range(CUSTOMERS_ON_A_HOST)]
            with postgres.connect(DATABASE) as admin:
                set_venue_limit(admin, "binance", 10_000_000, 3600)

            async def measure() -> list[tuple[str, float, list[float]]]:
                engines = [tenant_engine(tenant) for tenant in tenants]
                try:
                    budgets = [SharedBudget(engine) for engine in engines]
                    await _run(budgets[:1])  # warm the pools
                    alone = await _run(budgets[:1])
                    together = await _run(budgets[:SHARERS])
                    return [("1 customer", *alone), (f"{SHARERS} customers, one pool", *together)]
                finally:
                    for engine in engines:
                        await engine.dispose()

            rows = asyncio.run(measure())
            print(f"{'acquire()':<26}{'calls/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
            for name, rate, latencies in rows:
                print(f"{name:<26}{rate:>10.0f}{_p(latencies, 50):>9.2f}{_p(latencies, 99):>9.2f}")
            print(f"ratio pool/alone calls/s: {rows[1][1] / rows[0][1]:.2f}")

            with postgres.connect(DATABASE) as admin:
                ensure_schema(admin)  # Binance's own budget and window again (and a fresh window for the counts)
                admin.execute("DELETE FROM egress_budget.venue_window WHERE pool = %s", (pool,))

            async def pace() -> tuple[float, int]:
                engines = [tenant_engine(tenant) for tenant in tenants]
                try:
                    return await _sync_among_idle_sharers([SharedBudget(e) for e in engines])
                finally:
                    for engine in engines:
                        await engine.dispose()

            waited, refused = asyncio.run(pace())
            weight = sum(Binance.weights.values())
            print(
                f"one Binance sync ({weight} weight) among {CUSTOMERS_ON_A_HOST} customers that read a little: "
                f"waited {waited:.1f} s, {refused} of its {len(Binance.weights)} calls told to wait"
            )
        finally:
            postgres.stop()


if __name__ == "__main__":
    main()
