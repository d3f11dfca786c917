"""Coinbase Advanced Trade (CDP keys): `GET /api/v3/brokerage/key_permissions` proves read-only (`can_view`
true, `can_trade` and `can_transfer` false); the accounts of every portfolio the key can list are read,
vaults included (ccxt's fetch_balance leaves vaults out)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tallyhold.exchanges import parse
from tallyhold.exchanges.model import BalanceSheet, Category, Findings, KeyReport, VenueInfo, Wallet
from tallyhold.exchanges.venues.base import Adapter, Api

# The CDP key scopes (docs "API Scopes and Permissions"): View, Trade, Transfer.
REFUSED: dict[str, tuple[Category, str]] = {"can_trade": ("trade", "Trade"), "can_transfer": ("transfer", "Transfer")}
PAGE = 250
MAX_PAGES = 200


def permission_rule(answer: Any) -> KeyReport:
    data = parse.obj(answer, "key_permissions")
    for required in ("can_view", "can_trade", "can_transfer"):
        parse.field(data, required, "key_permissions")
    found = Findings()
    for name, value in data.items():
        if not name.startswith("can_"):
            # A true boolean under a name we do not know may be a right: refuse it rather than ignore it.
            if value is True:
                found.grant("unknown", name[:40])
            continue
        granted = parse.flag(value, f"key_permissions.{name}")
        if name == "can_view":
            found.read = granted
        elif granted:
            category, words = REFUSED.get(name, ("unknown", name))
            found.grant(category, words)
    if not found.read:
        found.need("View")
    return found.report()


class Coinbase(Adapter):
    info = VenueInfo(
        id="coinbase",
        name="Coinbase",
        enable="View",
        leave_off=tuple(words for _, words in REFUSED.values()),
        verification="exchange",
        permission_endpoint="GET /api/v3/brokerage/key_permissions",
        rule="`can_view` is true, `can_trade` and `can_transfer` are false, and no other `can_*` flag is true.",
        wallets=(
            Wallet("spot", "Crypto and fiat accounts of every listed portfolio", "GET /api/v3/brokerage/accounts"),
            Wallet("vault", "Vaults (ACCOUNT_TYPE_VAULT)", "GET /api/v3/brokerage/accounts"),
        ),
        not_covered="Coinbase Financial Markets futures, INTX perpetuals and Coinbase App staking are not read; a "
        "CDP key sees the portfolios Coinbase lets it list.",
    )
    methods = frozenset(
        {"v3PrivateGetBrokerageKeyPermissions", "v3PrivateGetBrokeragePortfolios", "v3PrivateGetBrokerageAccounts"}
    )

    async def check(self, api: Api) -> KeyReport:
        return permission_rule(await api.call("v3PrivateGetBrokerageKeyPermissions"))

    async def balances(self, api: Api, report: KeyReport | None) -> BalanceSheet:
        sheet = BalanceSheet()
        listed = parse.obj(await api.call("v3PrivateGetBrokeragePortfolios"), "portfolios")
        portfolios = parse.arr_at(listed, "portfolios", "portfolios")
        for p, line in enumerate(portfolios):
            portfolio = parse.obj(line, f"portfolios.portfolios[{p}]")
            if portfolio.get("deleted") is True:
                continue
            uuid = parse.text_at(portfolio, "uuid", f"portfolios.portfolios[{p}]")
            await self._accounts(api, sheet, uuid)
            sheet.wallets[f"portfolio_{p}"] = "ok"
        return sheet

    async def _accounts(self, api: Api, sheet: BalanceSheet, portfolio: str) -> None:
        cursor = ""
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"limit": PAGE, "retail_portfolio_id": portfolio}
            if cursor:
                params["cursor"] = cursor
            page = parse.obj(await api.call("v3PrivateGetBrokerageAccounts", params), "accounts")
            for i, line in enumerate(parse.arr_at(page, "accounts", "accounts")):
                where = f"accounts.accounts[{i}]"
                row = parse.obj(line, where)
                amount = Decimal(0)
                for part in ("available_balance", "hold"):
                    money = row.get(part)
                    if money is not None:
                        money = parse.obj(money, f"{where}.{part}")
                        amount += parse.amount_at(money, "value", f"{where}.{part}")
                kind = row.get("type")
                location = "vault" if kind == "ACCOUNT_TYPE_VAULT" else "spot"
                sheet.add(parse.text_at(row, "currency", where), location, amount)
            if not parse.flag(page.get("has_next", False), "accounts.has_next"):
                return
            cursor = parse.text_at(page, "cursor", "accounts")
        raise parse.Malformed("accounts.cursor", "more pages than any account has")


ADAPTER = Coinbase()
