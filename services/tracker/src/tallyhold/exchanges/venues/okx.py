"""OKX (v5): `GET /api/v5/account/config` proves read-only (`perm` is exactly `read_only`); the trading,
funding, Simple Earn (savings) and On-chain Earn (staking) accounts are read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tallyhold.exchanges import parse
from tallyhold.exchanges.model import BalanceSheet, Category, Findings, KeyReport, VenueInfo, Wallet
from tallyhold.exchanges.venues.base import Adapter, Api, read_wallets

# The `perm` values of an OKX key and the label of each on the key's settings page.
REFUSED: dict[str, tuple[Category, str]] = {"trade": ("trade", "Trade"), "withdraw": ("withdraw", "Withdraw")}


def permission_rule(answer: Any) -> KeyReport:
    rows = parse.arr_at(parse.obj(answer, "account/config"), "data", "account/config")
    if len(rows) != 1:
        raise parse.Malformed("account/config.data", "expected exactly one account")
    config = parse.obj(rows[0], "account/config.data[0]")
    perms = parse.csv_at(config, "perm", "account/config.data[0]")
    found = Findings(read="read_only" in perms)
    for perm in perms:
        if perm != "read_only":
            category, words = REFUSED.get(perm, ("unknown", perm))
            found.grant(category, words)
    if not found.read:
        found.need("Read")
    ip = config.get("ip")
    return found.report(
        ip_restricted=bool(parse.text(ip, "account/config.data[0].ip").strip()) if ip is not None else None
    )


class Okx(Adapter):
    info = VenueInfo(
        id="okx",
        name="OKX",
        enable="Read",
        leave_off=tuple(words for _, words in REFUSED.values()),
        verification="exchange",
        permission_endpoint="GET /api/v5/account/config",
        rule="`perm` (comma-separated) is exactly `read_only`; `trade`, `withdraw` or any other value refuses the key.",
        credentials=("passphrase",),
        wallets=(
            Wallet("trading", "Trading account (equity per currency)", "GET /api/v5/account/balance"),
            Wallet("funding", "Funding account", "GET /api/v5/asset/balances"),
            Wallet("earn", "Simple Earn (savings)", "GET /api/v5/finance/savings/balance"),
            Wallet(
                "staked",
                "On-chain Earn (staking/DeFi, invested amounts)",
                "GET /api/v5/finance/staking-defi/orders-active",
            ),
        ),
        not_covered="Sub-accounts, trading bots and copy-trading sub-accounts, structured products (Dual Investment, "
        "Shark Fin) and loans are not read. ETH/SOL staking shows as its BETH/OKSOL token where OKX credits it.",
    )
    methods = frozenset(
        {
            "privateGetAccountConfig",
            "privateGetAccountBalance",
            "privateGetAssetBalances",
            "privateGetFinanceSavingsBalance",
            "privateGetFinanceStakingDefiOrdersActive",
        }
    )

    async def check(self, api: Api) -> KeyReport:
        return permission_rule(await api.call("privateGetAccountConfig"))

    async def balances(self, api: Api, report: KeyReport | None) -> BalanceSheet:
        sheet = BalanceSheet()

        async def trading() -> None:
            for a, account in enumerate(_data(await api.call("privateGetAccountBalance"), "balance")):
                details = parse.arr_at(parse.obj(account, f"balance.data[{a}]"), "details", f"balance.data[{a}]")
                for i, line in enumerate(details):
                    where = f"balance.data[{a}].details[{i}]"
                    row = parse.obj(line, where)
                    # eq: the currency's equity in the trading account (cash, unrealised P&L, minus liabilities)
                    sheet.net(_ccy(row, where), "trading", parse.decimal_at(row, "eq", where))

        async def funding() -> None:
            for i, line in enumerate(_data(await api.call("privateGetAssetBalances"), "asset/balances")):
                where = f"asset/balances.data[{i}]"
                row = parse.obj(line, where)
                sheet.add(_ccy(row, where), "funding", parse.amount_at(row, "bal", where))

        async def savings() -> None:
            for i, line in enumerate(_data(await api.call("privateGetFinanceSavingsBalance"), "savings")):
                where = f"savings.data[{i}]"
                row = parse.obj(line, where)
                sheet.add(_ccy(row, where), "earn", parse.amount_at(row, "amt", where))

        async def staking() -> None:
            for i, line in enumerate(_data(await api.call("privateGetFinanceStakingDefiOrdersActive"), "staking")):
                order = parse.obj(line, f"staking.data[{i}]")
                for j, part in enumerate(parse.arr_at(order, "investData", f"staking.data[{i}]")):
                    where = f"staking.data[{i}].investData[{j}]"
                    row = parse.obj(part, where)
                    sheet.add(_ccy(row, where), "staked", parse.amount_at(row, "amt", where))

        await read_wallets(
            self, sheet, {"trading": trading, "funding": funding, "savings": savings, "staking": staking}
        )
        return sheet


def _data(answer: Any, where: str) -> list[Any]:
    return parse.arr_at(parse.obj(answer, where), "data", where)


def _ccy(row: Mapping[str, Any], where: str) -> str:
    return parse.text_at(row, "ccy", where)


ADAPTER = Okx()
