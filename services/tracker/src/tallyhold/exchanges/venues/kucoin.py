"""KuCoin: `GET /api/v1/user/api-key` proves read-only (`permission` is exactly `General`); the main
(funding), trading, high-frequency, margin, futures and Earn accounts are read."""

from __future__ import annotations

from typing import Any

from tallyhold.exchanges import parse
from tallyhold.exchanges.model import BalanceSheet, Category, Findings, KeyReport, VenueInfo, Wallet
from tallyhold.exchanges.venues.base import Adapter, Api, read_wallets

# KuCoin's permission groups (API management page labels). "General" is the read-only group.
REFUSED: dict[str, tuple[Category, str]] = {
    "Spot": ("trade", "Spot Trading"),
    "Margin": ("trade", "Margin Trading"),
    "Futures": ("trade", "Futures Trading"),
    "LeadtradeFutures": ("trade", "Futures Lead Trading"),
    "Transfer": ("withdraw", "Transfer (deposits and withdrawals)"),
    "InnerTransfer": ("transfer", "Inner Transfer"),
    "Earn": ("transfer", "Earn"),
}
ACCOUNT_TYPES = {"main": "funding", "trade": "spot", "trade_hf": "spot", "margin": "margin", "isolated": "margin"}
EARN_PAGE = 50


def permission_rule(answer: Any) -> KeyReport:
    data = parse.obj_at(parse.obj(answer, "user/api-key"), "data", "user/api-key")
    groups = parse.csv_at(data, "permission", "user/api-key.data")
    found = Findings(read="General" in groups)
    for group in groups:
        if group != "General":
            category, words = REFUSED.get(group, ("unknown", group))
            found.grant(category, words)
    if not found.read:
        found.need("General")
    whitelist = data.get("ipWhitelist")
    created = data.get("createdAt")
    return found.report(
        ip_restricted=bool(parse.text(whitelist, "user/api-key.data.ipWhitelist").strip())
        if whitelist is not None
        else None,
        key_created_at=parse.epoch(created, "user/api-key.data.createdAt") if created is not None else None,
    )


class Kucoin(Adapter):
    info = VenueInfo(
        id="kucoin",
        name="KuCoin",
        enable="General",
        leave_off=tuple(words for _, words in REFUSED.values()),
        verification="exchange",
        permission_endpoint="GET /api/v1/user/api-key",
        rule="`permission` (comma-separated) is exactly `General`; Spot, Margin, Futures, Transfer, InnerTransfer, "
        "Earn or any other group refuses the key.",
        credentials=("passphrase",),
        wallets=(
            Wallet("funding", "Main (funding) account", "GET /api/v1/accounts"),
            Wallet("spot", "Trading and high-frequency trading accounts", "GET /api/v1/accounts"),
            Wallet("margin", "Cross margin account (gross, see not covered)", "GET /api/v1/accounts"),
            Wallet("futures", "Futures accounts (equity per settlement currency)", "GET /api/v1/account-overview-all"),
            Wallet("earn", "Earn holdings", "GET /api/v1/earn/hold-assets"),
        ),
        not_covered="Margin loans are not netted (the accounts endpoint lists gross balances); isolated margin, "
        "sub-accounts and trading bots are not read.",
    )
    methods = frozenset(
        {"privateGetUserApiKey", "privateGetAccounts", "futuresPrivateGetAccountOverviewAll", "earnGetEarnHoldAssets"}
    )

    async def check(self, api: Api) -> KeyReport:
        return permission_rule(await api.call("privateGetUserApiKey"))

    async def balances(self, api: Api, report: KeyReport | None) -> BalanceSheet:
        sheet = BalanceSheet()

        async def accounts() -> None:
            for i, line in enumerate(_data_list(await api.call("privateGetAccounts"), "accounts")):
                where = f"accounts.data[{i}]"
                row = parse.obj(line, where)
                kind = parse.text_at(row, "type", where)
                location = ACCOUNT_TYPES.get(kind, kind)
                amount = parse.amount_at(row, "balance", where)
                sheet.add(parse.text_at(row, "currency", where), location, amount)

        async def futures() -> None:
            data = parse.obj_at(
                parse.obj(await api.call("futuresPrivateGetAccountOverviewAll"), "futures"), "data", "futures"
            )
            for i, line in enumerate(parse.arr(data.get("accounts", []), "futures.data.accounts")):
                where = f"futures.data.accounts[{i}]"
                row = parse.obj(line, where)
                equity = parse.decimal_at(row, "accountEquity", where)
                sheet.net(parse.text_at(row, "currency", where), "futures", equity)

        async def earn() -> None:
            for page in range(1, 201):
                answer = await api.call("earnGetEarnHoldAssets", {"currentPage": page, "pageSize": EARN_PAGE})
                data = parse.obj_at(parse.obj(answer, "earn"), "data", "earn")
                items = parse.arr_at(data, "items", "earn.data")
                for i, line in enumerate(items):
                    where = f"earn.data.items[{i}]"
                    row = parse.obj(line, where)
                    amount = parse.amount_at(row, "holdAmount", where)
                    sheet.add(parse.text_at(row, "currency", where), "earn", amount)
                if page >= parse.integer(data.get("totalPage", 1), "earn.data.totalPage"):
                    return

        await read_wallets(self, sheet, {"accounts": accounts, "futures": futures, "earn": earn})
        return sheet


def _data_list(answer: Any, where: str) -> list[Any]:
    return parse.arr_at(parse.obj(answer, where), "data", where)


ADAPTER = Kucoin()
