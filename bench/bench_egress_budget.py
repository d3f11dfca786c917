"""The exchange budget shared per egress IP: what asking it costs each exchange request.

Every request to a venue with a per-IP limit first runs `egress_budget.acquire` (one short transaction on the
shared Postgres). This measures that call through the instance's own `SharedBudget`, for one customer alone and
for eight customers of one pool asking at once (they serialise on the pool's row), against a budget too large
to make anyone wait: the figure is the overhead, not the pacing.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker

from tallyhold.exchanges.shared_budget import SharedBudget
from tallyhold_provision.egress_budget import set_venue_limit
from tallyhold_provision.local.postgres import LocalPostgres
from tests.fixtures.egress_budget import new_pool, tenant_engine
from tests.fixtures.platform import DATABASE, create_tenant

SHARERS = 8
CALLS_EACH = 200


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
            tenants = [create_tenant(postgres, migrate=False, egress_pool=pool) for _ in range(SHARERS)]
            with postgres.connect(DATABASE) as admin:
                set_venue_limit(admin, "binance", 10_000_000, 3600)

            async def measure() -> list[tuple[str, float, list[float]]]:
                engines = [tenant_engine(tenant) for tenant in tenants]
                try:
                    budgets = [SharedBudget(async_sessionmaker(engine)) for engine in engines]
                    await _run(budgets[:1])  # warm the pools
                    alone = await _run(budgets[:1])
                    together = await _run(budgets)
                    return [("1 customer", *alone), (f"{SHARERS} customers, one pool", *together)]
                finally:
                    for engine in engines:
                        await engine.dispose()

            rows = asyncio.run(measure())
            print(f"{'acquire()':<26}{'calls/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
            for name, rate, latencies in rows:
                print(f"{name:<26}{rate:>10.0f}{_p(latencies, 50):>9.2f}{_p(latencies, 99):>9.2f}")
            print(f"ratio pool/alone calls/s: {rows[1][1] / rows[0][1]:.2f}")
        finally:
            postgres.stop()


if __name__ == "__main__":
    main()
